_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        if isinstance(node.op, ast.Pow) and abs(_evaluate(node.right)) > 100:
            raise ValueError("exponent too large")
        return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.operand))
    raise ValueError("unsupported expression")


class CalculatorInput(BaseModel):
    """Input schema for CalculatorTool."""

    expression: str = Field(..., description="Arithmetic expression, e.g. (1200 - 950) / 950 * 100")


class CalculatorTool(BaseTool):
    name: str = "calculator"
    description: str = "Evaluate an arithmetic expression with + - * / // % ** and parentheses."
    args_schema: Type[BaseModel] = CalculatorInput

    def _run(self, expression: str) -> str:
        try:
            return str(_evaluate(ast.parse(expression, mode="eval")))
        except (SyntaxError, ValueError, ZeroDivisionError, OverflowError) as e:
            return f"Could not evaluate {expression!r}: {e}"
