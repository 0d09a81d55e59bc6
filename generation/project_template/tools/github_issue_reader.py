class GitHubIssuesInput(BaseModel):
    """Input schema for GitHubIssuesTool."""

    state: str = Field("open", description="open, closed or all.")
    since: str = Field("", description="Only issues updated after this ISO 8601 date, if given.")
    limit: int = Field(30, description="How many issues at most.")


class GitHubIssuesTool(BaseTool):
    name: str = "github_issues"
    description: str = (
        "List issues of the GitHub repository in GITHUB_REPOSITORY: number, title, labels, "
        "author and the start of the body."
    )
    args_schema: Type[BaseModel] = GitHubIssuesInput

    def _run(self, state: str = "open", since: str = "", limit: int = 30) -> str:
        try:
            repo = _repository()
        except ValueError as e:
            return f"GitHub is not configured: {e}."
        query = {"state": state, "per_page": max(1, min(limit, 100))}
        if since:
            query["since"] = since
        issues = _github("GET", f"/repos/{repo}/issues?{urllib.parse.urlencode(query)}")
        lines = []
        for issue in issues:
            if "pull_request" in issue:
                continue
            labels = ", ".join(label["name"] for label in issue.get("labels", []))
            body = (issue.get("body") or "").replace("\n", " ")[:300]
            lines.append(
                f"#{issue['number']} {issue['title']} [labels: {labels or 'none'}] "
                f"by {issue.get('user', {}).get('login', '?')}: {body}"
            )
        return "\n".join(lines) or "No issues."
