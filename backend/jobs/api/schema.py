"""drf-spectacular hooks that make the OpenAPI document match what the API enforces."""


def forbid_unknown_request_fields(result, generator, request, public):
    """Declare ``additionalProperties: false`` on request bodies, because the API rejects unknown fields."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result
