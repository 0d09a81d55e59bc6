def _github(method: str, path: str, payload: dict | None = None):
    """One GitHub REST call; GITHUB_API_URL points elsewhere for GitHub Enterprise or tests."""
    base = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "crewai-project",
    }
    if os.environ.get("GITHUB_TOKEN"):
        headers["Authorization"] = f"Bearer {os.environ['GITHUB_TOKEN']}"
    data = None
    if payload is not None:
        data = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)


def _repository(repository: str = "") -> str:
    repo = repository or os.environ.get("GITHUB_REPOSITORY", "")
    if repo.count("/") != 1:
        raise ValueError("set GITHUB_REPOSITORY in .env to owner/name")
    return repo
