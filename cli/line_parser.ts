/**
 * Splits an interactive command line into arguments, redis-cli style: whitespace separates,
 * `"double quotes"` group words and understand `\n \r \t \" \\ \xHH`, `'single quotes'` group
 * words literally (only `\'` is an escape).
 * @module
 */

/** Thrown for unbalanced quotes or a quote glued to the next word. */
export class LineSyntaxError extends Error {}

function isSpace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\r";
}

const enc = new TextEncoder();

/** One argument being built: text, switching to bytes once a `\xHH` escape appears. */
class ArgBuilder {
  text = "";
  bytes: number[] | null = null;

  add(s: string): void {
    if (this.bytes === null) this.text += s;
    else for (const b of enc.encode(s)) this.bytes.push(b);
  }

  addByte(b: number): void {
    if (this.bytes === null) {
      this.bytes = [...enc.encode(this.text)];
      this.text = "";
    }
    this.bytes.push(b);
  }

  done(): string | Uint8Array {
    return this.bytes === null ? this.text : new Uint8Array(this.bytes);
  }
}

/**
 * Parses one line into arguments. An argument with a `\xHH` escape becomes bytes (so `"\xff"` is
 * the single byte 0xff); others stay text.
 */
export function parseLine(line: string): (string | Uint8Array)[] {
  const args: (string | Uint8Array)[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) break;
    const cur = new ArgBuilder();
    let inWord = true;
    while (inWord && i < n) {
      const ch = line[i];
      if (ch === '"') {
        i++;
        let closed = false;
        while (i < n) {
          const c = line[i];
          if (c === "\\" && i + 1 < n) {
            const e = line[i + 1];
            if (e === "x" && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) {
              cur.addByte(parseInt(line.slice(i + 2, i + 4), 16));
              i += 4;
              continue;
            }
            cur.add(e === "n" ? "\n" : e === "r" ? "\r" : e === "t" ? "\t" : e);
            i += 2;
            continue;
          }
          i++;
          if (c === '"') {
            closed = true;
            break;
          }
          cur.add(c);
        }
        if (!closed) throw new LineSyntaxError("unbalanced quotes");
        if (i < n && !isSpace(line[i])) {
          throw new LineSyntaxError("closing quote must be followed by a space");
        }
        inWord = false;
      } else if (ch === "'") {
        i++;
        let closed = false;
        while (i < n) {
          const c = line[i];
          if (c === "\\" && line[i + 1] === "'") {
            cur.add("'");
            i += 2;
            continue;
          }
          i++;
          if (c === "'") {
            closed = true;
            break;
          }
          cur.add(c);
        }
        if (!closed) throw new LineSyntaxError("unbalanced quotes");
        if (i < n && !isSpace(line[i])) {
          throw new LineSyntaxError("closing quote must be followed by a space");
        }
        inWord = false;
      } else if (isSpace(ch)) {
        inWord = false;
      } else {
        cur.add(ch);
        i++;
      }
    }
    args.push(cur.done());
  }
  return args;
}
