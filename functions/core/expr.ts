/**
 * The expression AST shared by both compilers, and typed builders over it.
 * Nodes are plain JSON data so a view definition can be stored, served and compared.
 */

export type ArithOp = '+' | '-' | '*';
export type CompareOp = '=' | '<>' | '<' | '<=' | '>' | '>=';
export type ExprType = 'integer' | 'string' | 'boolean';

export type IntegerLiteral = { readonly kind: 'integer'; readonly value: number };
export type StringLiteral = { readonly kind: 'string'; readonly value: string };

export type Expr =
  | { readonly kind: 'field'; readonly name: string }
  | IntegerLiteral
  | StringLiteral
  | { readonly kind: 'arith'; readonly op: ArithOp; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'and' | 'or'; readonly args: readonly Expr[] }
  | { readonly kind: 'not'; readonly arg: Expr }
  | { readonly kind: 'in'; readonly arg: Expr; readonly values: readonly (IntegerLiteral | StringLiteral)[] }
  | { readonly kind: 'isNull'; readonly arg: Expr }
  | { readonly kind: 'coalesce'; readonly args: readonly Expr[] }
  | {
      readonly kind: 'case';
      readonly whens: readonly { readonly when: Expr; readonly value: Expr }[];
      readonly else: Expr | null;
    };

function integerLiteral(value: number): IntegerLiteral {
  if (!Number.isSafeInteger(value)) throw new RangeError(`integer literal ${value} is not a safe integer`);
  return { kind: 'integer', value };
}

export type IntLike = IntExpr | number;
export type StrLike = StrExpr | string;

const intNode = (value: IntLike): Expr => (typeof value === 'number' ? integerLiteral(value) : value.node);
const strNode = (value: StrLike): Expr =>
  typeof value === 'string' ? { kind: 'string', value } : value.node;

export class BoolExpr {
  constructor(readonly node: Expr) {}
  and(...others: BoolExpr[]): BoolExpr {
    return and(this, ...others);
  }
  or(...others: BoolExpr[]): BoolExpr {
    return or(this, ...others);
  }
  not(): BoolExpr {
    return not(this);
  }
}

export class IntExpr {
  constructor(readonly node: Expr) {}
  private arith(op: ArithOp, other: IntLike): IntExpr {
    return new IntExpr({ kind: 'arith', op, left: this.node, right: intNode(other) });
  }
  private compare(op: CompareOp, other: IntLike): BoolExpr {
    return new BoolExpr({ kind: 'compare', op, left: this.node, right: intNode(other) });
  }
  plus(other: IntLike): IntExpr {
    return this.arith('+', other);
  }
  minus(other: IntLike): IntExpr {
    return this.arith('-', other);
  }
  times(other: IntLike): IntExpr {
    return this.arith('*', other);
  }
  eq(other: IntLike): BoolExpr {
    return this.compare('=', other);
  }
  ne(other: IntLike): BoolExpr {
    return this.compare('<>', other);
  }
  lt(other: IntLike): BoolExpr {
    return this.compare('<', other);
  }
  le(other: IntLike): BoolExpr {
    return this.compare('<=', other);
  }
  gt(other: IntLike): BoolExpr {
    return this.compare('>', other);
  }
  ge(other: IntLike): BoolExpr {
    return this.compare('>=', other);
  }
  in(...values: number[]): BoolExpr {
    return new BoolExpr({ kind: 'in', arg: this.node, values: values.map(integerLiteral) });
  }
  isNull(): BoolExpr {
    return new BoolExpr({ kind: 'isNull', arg: this.node });
  }
}

/**
 * Strings compare only for equality: ordering differs between JavaScript (UTF-16 code units)
 * and SQL engines (code points), and a metric never needs it.
 */
export class StrExpr {
  constructor(readonly node: Expr) {}
  eq(other: StrLike): BoolExpr {
    return new BoolExpr({ kind: 'compare', op: '=', left: this.node, right: strNode(other) });
  }
  ne(other: StrLike): BoolExpr {
    return new BoolExpr({ kind: 'compare', op: '<>', left: this.node, right: strNode(other) });
  }
  in(...values: string[]): BoolExpr {
    return new BoolExpr({
      kind: 'in',
      arg: this.node,
      values: values.map((value) => ({ kind: 'string', value })),
    });
  }
  isNull(): BoolExpr {
    return new BoolExpr({ kind: 'isNull', arg: this.node });
  }
}

export const int = (value: number): IntExpr => new IntExpr(integerLiteral(value));
export const str = (value: string): StrExpr => new StrExpr({ kind: 'string', value });
export const and = (...args: BoolExpr[]): BoolExpr =>
  new BoolExpr({ kind: 'and', args: args.map((arg) => arg.node) });
export const or = (...args: BoolExpr[]): BoolExpr =>
  new BoolExpr({ kind: 'or', args: args.map((arg) => arg.node) });
export const not = (arg: BoolExpr): BoolExpr => new BoolExpr({ kind: 'not', arg: arg.node });

/** The first argument that is not null. */
export function coalesce(first: IntExpr, ...rest: IntLike[]): IntExpr;
export function coalesce(first: StrExpr, ...rest: StrLike[]): StrExpr;
export function coalesce(first: IntExpr | StrExpr, ...rest: (IntLike | StrLike)[]): IntExpr | StrExpr {
  if (first instanceof IntExpr) {
    return new IntExpr({
      kind: 'coalesce',
      args: [first.node, ...rest.map((arg) => intNode(arg as IntLike))],
    });
  }
  return new StrExpr({ kind: 'coalesce', args: [first.node, ...rest.map((arg) => strNode(arg as StrLike))] });
}

/** `caseWhen(cond, value).when(cond2, value2).else(other)`: SQL's searched CASE. */
export function caseWhen(when: BoolExpr, then: IntLike): IntCase;
export function caseWhen(when: BoolExpr, then: StrLike): StrCase;
export function caseWhen(when: BoolExpr, then: IntLike | StrLike): IntCase | StrCase {
  return typeof then === 'string' || then instanceof StrExpr
    ? new StrCase([{ when: when.node, value: strNode(then) }])
    : new IntCase([{ when: when.node, value: intNode(then) }]);
}

type When = { readonly when: Expr; readonly value: Expr };

export class IntCase extends IntExpr {
  constructor(private readonly whens: readonly When[]) {
    super({ kind: 'case', whens, else: null });
  }
  when(when: BoolExpr, then: IntLike): IntCase {
    return new IntCase([...this.whens, { when: when.node, value: intNode(then) }]);
  }
  else(value: IntLike): IntExpr {
    return new IntExpr({ kind: 'case', whens: this.whens, else: intNode(value) });
  }
}

export class StrCase extends StrExpr {
  constructor(private readonly whens: readonly When[]) {
    super({ kind: 'case', whens, else: null });
  }
  when(when: BoolExpr, then: StrLike): StrCase {
    return new StrCase([...this.whens, { when: when.node, value: strNode(then) }]);
  }
  else(value: StrLike): StrExpr {
    return new StrExpr({ kind: 'case', whens: this.whens, else: strNode(value) });
  }
}
