"""drf-spectacular hooks that make the OpenAPI document match what the API enforces."""


def forbid_unknown_request_fields(result, generator, request, public):
    """Declare ``additionalProperties: false`` on request bodies, because the API rejects unknown fields."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result


def mark_token_optional(result, generator, request, public):
    """Allow anonymous calls in the documented security requirements while tokens are not required."""
    from django.conf import settings

    if settings.GAN["REQUIRE_TOKEN"]:
        return result
    for path in result.get("paths", {}).values():
        for operation in path.values():
            security = operation.get("security")
            if security is not None and {} not in security:
                security.append({})
    return result
