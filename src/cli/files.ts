/** Files the CLI reads: bounded in size and checked to be regular files before they are read. */
import { promises as fs } from "node:fs";
import { CliError } from "./errors.js";

/** The text of `file`, refused (CliError naming `what`) when it is not a regular file or is over `maxBytes`. */
export async function readBoundedFile(file: string, maxBytes: number, what: string): Promise<string> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new CliError(`${file} is not a regular file`);
    if (st.size > maxBytes) throw new CliError(`${what} ${file} is ${st.size} bytes, more than ${maxBytes}`);
    return await fs.readFile(file, "utf8");
  } catch (err) {
    if (err instanceof CliError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${what} ${file}: ${code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
}
