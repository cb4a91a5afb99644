/** Injected into the bundle: the shared code uses the global Buffer (base64, byte lengths). */
export { Buffer } from "buffer";
