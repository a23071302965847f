import json


def quantity_matches(output, context):
    data = json.loads(output)
    wanted = int(context["vars"]["quantity"])
    return {"pass": data.get("quantity") == wanted, "score": 1.0, "reason": "quantity"}
