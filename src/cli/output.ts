// What the CLI prints: stdout text, JSON, and whether to paint it.
export const out = (text: string): boolean => process.stdout.write(text);

/** Pretty JSON, for one record read by people. */
export const json = (value: unknown): boolean => out(`${JSON.stringify(value, null, 2)}\n`);

/** One line of JSON, exactly as the daemon answered it: for scripts. */
export const jsonLine = (value: unknown): boolean => out(`${JSON.stringify(value)}\n`);

export const colour = (): boolean => process.stdout.isTTY === true && !process.env.NO_COLOR;
