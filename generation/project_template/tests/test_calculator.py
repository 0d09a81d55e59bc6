def test_calculator_evaluates_arithmetic_only():
    assert CalculatorTool().run(expression="(1200 - 950) / 950 * 100").startswith("26.3")
    assert "Could not evaluate" in CalculatorTool().run(expression="__import__('os')")
