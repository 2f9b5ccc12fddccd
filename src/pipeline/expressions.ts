/**
 * The `rules: if:` expression language, as GitLab defines it:
 *
 *   $VAR                       true when VAR is set and not empty
 *   $VAR == "text"  != 'text'  string comparison; `null` and an unset variable equal ""
 *   $VAR =~ /regex/i  !~       regular expression match (flags i, m, s); the right side
 *                              may also be a variable holding `/regex/`
 *   a && b, a || b, ( ... )    && binds tighter than ||
 *
 * Expressions are parsed when the file is read, so a syntax error is reported with the
 * column of the offending token; they are evaluated when a build is planned.
 */
import { limits } from './limits.js';

export type Operand =
  | { kind: 'variable'; name: string }
  | { kind: 'string'; value: string }
  | { kind: 'null' };

export type Expression =
  | { kind: 'and' | 'or'; left: Expression; right: Expression }
  | { kind: 'equals'; negate: boolean; left: Operand; right: Operand }
  | { kind: 'matches'; negate: boolean; left: Operand; pattern: RegExp | { variable: string } }
  | { kind: 'present'; operand: Operand };

export type ExpressionResult =
  | { ok: true; expression: Expression }
  | { ok: false; message: string; offset: number };

type Token =
  | { kind: 'variable'; name: string; offset: number; text: string }
  | { kind: 'string'; value: string; offset: number; text: string }
  | { kind: 'null' | '(' | ')' | '&&' | '||' | '==' | '!=' | '=~' | '!~'; offset: number; text: string }
  | { kind: 'regex'; pattern: RegExp; offset: number; text: string }
  | { kind: 'end'; offset: number; text: string };

class ExpressionError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

/** `$NAME` or `${NAME}`: the name is group 1 (braced) or 2. Also expanded in `changes:` globs. */
export const VARIABLE_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/;
const variableAt = new RegExp(VARIABLE_REFERENCE.source, 'y');

/** A variable's value; an unset variable reads as "". */
export function variableValue(variables: Readonly<Record<string, string>>, name: string): string {
  return Object.hasOwn(variables, name) ? (variables[name] ?? '') : '';
}

const EXAMPLE = 'expressions look like `$CI_COMMIT_BRANCH == "main" && $CI_PIPELINE_SOURCE != "schedule"`';

export function parseExpression(text: string): ExpressionResult {
  if (text.length > limits.expressionLength) {
    return { ok: false, message: `is longer than ${limits.expressionLength} characters`, offset: 0 };
  }
  try {
    const parser = new Parser(tokenize(text));
    const expression = parser.expression(0);
    parser.expectEnd();
    return { ok: true, expression };
  } catch (error) {
    if (error instanceof ExpressionError) return { ok: false, message: error.message, offset: error.offset };
    throw error;
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    const two = text.slice(i, i + 2);
    const previous = tokens[tokens.length - 1]?.kind;
    variableAt.lastIndex = i;
    const match = variableAt.exec(text);
    if (match) {
      tokens.push({ kind: 'variable', name: match[1] ?? match[2] ?? '', offset: start, text: match[0] });
      i += match[0].length;
    } else if (c === '"' || c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end === -1) throw new ExpressionError(`has a string that is not closed; add the closing ${c}`, start);
      tokens.push({ kind: 'string', value: text.slice(i + 1, end), offset: start, text: text.slice(i, end + 1) });
      i = end + 1;
    } else if (c === '/' && (previous === '=~' || previous === '!~')) {
      const regex = readRegex(text, i);
      tokens.push({ kind: 'regex', pattern: regex.pattern, offset: start, text: text.slice(i, regex.end) });
      i = regex.end;
    } else if (['==', '!=', '=~', '!~', '&&', '||'].includes(two)) {
      tokens.push({ kind: two as '==', offset: start, text: two });
      i += 2;
    } else if (c === '(' || c === ')') {
      tokens.push({ kind: c, offset: start, text: c });
      i++;
    } else if (/^null\b/.test(text.slice(i, i + 5))) {
      tokens.push({ kind: 'null', offset: start, text: 'null' });
      i += 4;
    } else if (c === '$') {
      throw new ExpressionError('has `$` without a variable name after it; write `$NAME`', start);
    } else {
      const word = /^[^\s()]+/.exec(text.slice(i, i + 40))?.[0] ?? c;
      const hint = c === '/' ? '; a /regex/ goes right after `=~` or `!~`' : c === '!' ? '; negate with `!=` or `!~`' : `; ${EXAMPLE}`;
      throw new ExpressionError(`has an unexpected \`${word}\`${hint}`, start);
    }
  }
  tokens.push({ kind: 'end', offset: text.length, text: '' });
  return tokens;
}

function readRegex(text: string, start: number): { pattern: RegExp; end: number } {
  let i = start + 1;
  let inClass = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) break;
  }
  if (i >= text.length) throw new ExpressionError('has a regular expression that is not closed; end it with `/`', start);
  const source = text.slice(start + 1, i);
  const flags = /^[a-zA-Z]*/.exec(text.slice(i + 1))?.[0] ?? '';
  const bad = [...flags].find((flag) => !'ims'.includes(flag));
  if (bad !== undefined) throw new ExpressionError(`has the regular expression flag \`${bad}\`; only \`i\`, \`m\` and \`s\` are supported`, i + 1);
  try {
    return { pattern: new RegExp(source, flags), end: i + 1 + flags.length };
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^Invalid regular expression: /, '') : String(error);
    throw new ExpressionError(`has an invalid regular expression: ${reason}`, start);
  }
}

class Parser {
  private readonly tokens: Token[];
  private index = 0;

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  expression(depth: number, where = 'at the start of a condition'): Expression {
    let left = this.conjunction(depth, where);
    while (this.peek().kind === '||') {
      this.index++;
      left = { kind: 'or', left, right: this.conjunction(depth, 'after `||`') };
    }
    return left;
  }

  expectEnd(): void {
    const token = this.peek();
    if (token.kind === ')') throw new ExpressionError('has a `)` without a matching `(`', token.offset);
    if (token.kind !== 'end') throw new ExpressionError(`has \`${token.text}\` where \`&&\`, \`||\` or the end was expected`, token.offset);
  }

  private conjunction(depth: number, where: string): Expression {
    let left = this.term(depth, where);
    while (this.peek().kind === '&&') {
      this.index++;
      left = { kind: 'and', left, right: this.term(depth, 'after `&&`') };
    }
    return left;
  }

  private term(depth: number, where: string): Expression {
    const token = this.peek();
    if (token.kind === '(') {
      if (depth >= limits.expressionDepth) throw new ExpressionError(`nests parentheses more than ${limits.expressionDepth} deep`, token.offset);
      this.index++;
      const inner = this.expression(depth + 1, 'after `(`');
      const close = this.peek();
      if (close.kind !== ')') throw new ExpressionError(`is missing a \`)\` to close the \`(\` at character ${token.offset + 1}`, close.offset);
      this.index++;
      return inner;
    }
    const left = this.operand(where);
    const op = this.peek();
    if (op.kind === '==' || op.kind === '!=') {
      this.index++;
      return { kind: 'equals', negate: op.kind === '!=', left, right: this.operand(`after \`${op.kind}\``) };
    }
    if (op.kind === '=~' || op.kind === '!~') {
      this.index++;
      const right = this.next();
      if (right.kind === 'regex') return { kind: 'matches', negate: op.kind === '!~', left, pattern: right.pattern };
      if (right.kind === 'variable') return { kind: 'matches', negate: op.kind === '!~', left, pattern: { variable: right.name } };
      throw new ExpressionError(`needs a /regular expression/ after \`${op.kind}\``, right.offset);
    }
    return { kind: 'present', operand: left };
  }

  private operand(where: string): Operand {
    const token = this.next();
    switch (token.kind) {
      case 'variable':
        return { kind: 'variable', name: token.name };
      case 'string':
        return { kind: 'string', value: token.value };
      case 'null':
        return { kind: 'null' };
      case 'end':
        throw new ExpressionError(`ends where a value was expected ${where}; ${EXAMPLE}`, token.offset);
      default:
        throw new ExpressionError(`has \`${token.text}\` where a \`$VARIABLE\`, a "string" or \`null\` was expected ${where}`, token.offset);
    }
  }

  private peek(): Token {
    return this.tokens[this.index] ?? this.tokens[this.tokens.length - 1] ?? { kind: 'end', offset: 0, text: '' };
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index++;
    return token;
  }
}

/** Evaluates against variables; an unset variable is null, and null equals "". */
export function evaluateExpression(expression: Expression, variables: Readonly<Record<string, string>>): boolean {
  const value = (operand: Operand): string => {
    if (operand.kind === 'string') return operand.value;
    if (operand.kind === 'variable') return variableValue(variables, operand.name);
    return '';
  };
  switch (expression.kind) {
    case 'and':
      return evaluateExpression(expression.left, variables) && evaluateExpression(expression.right, variables);
    case 'or':
      return evaluateExpression(expression.left, variables) || evaluateExpression(expression.right, variables);
    case 'equals':
      return (value(expression.left) === value(expression.right)) !== expression.negate;
    case 'present':
      return value(expression.operand) !== '';
    case 'matches': {
      const pattern = expression.pattern instanceof RegExp ? expression.pattern : regexFromVariable(variableValue(variables, expression.pattern.variable));
      if (pattern === null) return expression.negate;
      return pattern.test(value(expression.left)) !== expression.negate;
    }
  }
}

/** A variable used as a pattern holds `/regex/flags`; anything else matches nothing. */
function regexFromVariable(text: string): RegExp | null {
  const match = /^\/(.*)\/([ims]*)$/s.exec(text);
  if (!match) return null;
  try {
    return new RegExp(match[1] ?? '', match[2]);
  } catch {
    // A pattern that does not compile cannot match; the variable comes from outside the file.
    return null;
  }
}
