def get_transform(output, context):
    """Drop a Markdown fence around the JSON, if the model added one."""
    text = output.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1].rsplit("```", 1)[0]
    return text
