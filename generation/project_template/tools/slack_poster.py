class SlackWebhookInput(BaseModel):
    """Input schema for SlackWebhookTool."""

    text: str = Field(..., description="The message to post (Slack mrkdwn).")


class SlackWebhookTool(BaseTool):
    name: str = "slack_poster"
    description: str = "Post a message to the Slack channel of the incoming webhook in SLACK_WEBHOOK_URL."
    args_schema: Type[BaseModel] = SlackWebhookInput

    def _run(self, text: str) -> str:
        url = os.environ.get("SLACK_WEBHOOK_URL", "")
        if not url.startswith(("https://", "http://")):
            return "Slack is not configured: set SLACK_WEBHOOK_URL in .env."
        request = urllib.request.Request(
            url,
            data=json.dumps({"text": text}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            answer = response.read(1000).decode("utf-8", errors="replace")
        return f"Posted to Slack ({answer or 'ok'})."
