/**
 * ssh hands the remote side one string that the login shell parses again, so every argument is quoted for a
 * POSIX shell (sh, bash, dash, zsh): single quotes make every byte literal, including `$`, backticks, `\`
 * and newlines; an embedded single quote is closed, escaped and reopened. csh-family login shells are not
 * supported (they treat `!` and newlines inside quotes differently).
 */
export function quoteShellArg(arg: string): string {
  if (arg.includes('\0')) throw new Error('an argument cannot contain a NUL byte');
  // a leading `=` is left quoted: zsh expands `=name` to a command's path
  if (/^[\w@%+:,./-][\w@%+=:,./-]*$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

export function joinShellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty command');
  return argv.map(quoteShellArg).join(' ');
}
