class MyCustomToolInput(BaseModel):
    """Input schema for MyCustomTool."""

    argument: str = Field(..., description="Description of the argument.")


class MyCustomTool(BaseTool):
    """A starting point for your own tool; give it to an agent in crew.py."""

    name: str = "my_custom_tool"
    description: str = "Describe what this tool is useful for; the agent reads this."
    args_schema: Type[BaseModel] = MyCustomToolInput

    def _run(self, argument: str) -> str:
        return f"Received: {argument}"
