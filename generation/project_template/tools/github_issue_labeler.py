class GitHubLabelInput(BaseModel):
    """Input schema for GitHubLabelTool."""

    issue_number: int = Field(..., description="The issue number, e.g. 42.")
    labels: list[str] = Field(..., description="Labels to add, e.g. ['bug', 'needs-triage'].")


class GitHubLabelTool(BaseTool):
    name: str = "github_label_issue"
    description: str = "Add labels to an issue of the GitHub repository in GITHUB_REPOSITORY."
    args_schema: Type[BaseModel] = GitHubLabelInput

    def _run(self, issue_number: int, labels: list[str]) -> str:
        try:
            repo = _repository()
        except ValueError as e:
            return f"GitHub is not configured: {e}."
        result = _github("POST", f"/repos/{repo}/issues/{int(issue_number)}/labels", {"labels": labels})
        names = ", ".join(label["name"] for label in result)
        return f"Issue #{issue_number} now has the labels: {names}."
