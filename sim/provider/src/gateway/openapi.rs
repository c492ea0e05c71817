//! The OpenAPI 3.1 document of the provider's HTTP face (`GET /openapi.json`), written by
//! hand with `serde_json`. It lists exactly the routes of [`super::ROUTES`] (unit test
//! `openapi_lists_exactly_the_routes`) and the `message.stored` webhook.

use serde_json::{Value, json};

use super::{DEFAULT_LIMIT, MAX_LIMIT, problem_type};

fn problem_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/responses/{name}")})
}

fn problem_response(description: &str, kind: &str, status: u16, example_detail: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"},
            "example": {
                "type": kind,
                "title": description,
                "status": status,
                "detail": example_detail,
            }
        }}
    })
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
    })
}

/// The document.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "demail-testbed provider HTTP face",
            "version": "1.0.0",
            "summary": "Gateway API for an institution's intake, directory (ÖVD) look-up",
            "description": "The HTTP face of the simulated De-Mail provider (DMDA). The gateway API lets an institution's intake list, fetch and acknowledge the messages of its mailbox and register a webhook; a bearer token sees only its own account's mailbox: another account's message is refused with 403, an id that exists nowhere is a 404. The directory look-up returns the attributes of the LDAP schema of BSI TR 01201 IT-BInfra-IO §6.2. Errors are RFC 9457 problems. See docs/gateway.md.",
            "license": {"name": "EUPL-1.2", "identifier": "EUPL-1.2"}
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "servers": [{"url": "/", "description": "The provider's HTTP address (Provider::http_addr, loopback)"}],
        "tags": [
            {"name": "gateway", "description": "Mailbox access for an institution's intake (bearer token)"},
            {"name": "directory", "description": "Public directory (ÖVD) look-up, IT-BInfra-IO §6"},
            {"name": "testbed", "description": "The testbed operator's view: the delivery queue (open, no message content)"},
            {"name": "meta", "description": "This document"}
        ],
        "paths": paths(),
        "webhooks": {
            "message.stored": {
                "post": {
                    "summary": "A new message was laid into the mailbox",
                    "description": "Sent to the URL registered with PUT /api/v1/webhook. Fire-and-forget: any 2xx counts, nothing is retried. Fetch the message with GET /api/v1/messages/{id}.",
                    "requestBody": {
                        "required": true,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StoredEvent"}}}
                    },
                    "responses": {"2XX": {"description": "Received"}}
                }
            }
        },
        "components": components(),
    })
}

/// The paths of the HTTP face (the same set as `super::ROUTES`; a test holds them together).
fn paths() -> Value {
    let bearer = json!([{"bearerAuth": []}]);
    let id_param = json!({"$ref": "#/components/parameters/MessageId"});
    let mut all = message_paths(&bearer, &id_param);
    if let (Some(all), Value::Object(more)) = (all.as_object_mut(), other_paths(&bearer)) {
        all.extend(more);
    }
    all
}

/// The mailbox's messages: list, fetch, fetch raw, acknowledge.
fn message_paths(bearer: &Value, id_param: &Value) -> Value {
    json!({
        "/api/v1/messages": {
            "get": {
                "tags": ["gateway"],
                "operationId": "listMessages",
                "summary": "List the mailbox's messages in Eingang order",
                "description": "Messages not yet acknowledged, oldest Eingang first, after the cursor `since`. Pass `next_cursor` of one answer as `since` of the next to page or to poll for new mail. Cursors are stable: acknowledging messages does not shift them.",
                "security": bearer,
                "parameters": [
                    {"$ref": "#/components/parameters/Since"},
                    {"$ref": "#/components/parameters/Limit"},
                    {"$ref": "#/components/parameters/Include"}
                ],
                "responses": {
                    "200": json_response("A page of messages", "MessageList"),
                    "400": problem_ref("BadQuery"),
                    "401": problem_ref("Unauthorized"),
                    "500": problem_ref("InternalError")
                }
            }
        },
        "/api/v1/messages/{id}": {
            "get": {
                "tags": ["gateway"],
                "operationId": "getMessage",
                "summary": "Metadata of one message",
                "security": bearer,
                "parameters": [id_param],
                "responses": {
                    "200": json_response("The message's metadata", "Message"),
                    "400": problem_ref("BadRequest"),
                    "401": problem_ref("Unauthorized"),
                    "403": problem_ref("Forbidden"),
                    "404": problem_ref("NotFound"),
                    "500": problem_ref("InternalError")
                }
            }
        },
        "/api/v1/messages/{id}/raw": {
            "get": {
                "tags": ["gateway"],
                "operationId": "getRawMessage",
                "summary": "The message exactly as stored (RFC 5322 with the provider's metadata, PVD-IO Tabelle 1)",
                "security": bearer,
                "parameters": [id_param],
                "responses": {
                    "200": {
                        "description": "The stored bytes, unchanged",
                        "content": {"message/rfc822": {"schema": {"type": "string", "contentMediaType": "message/rfc822"}}}
                    },
                    "400": problem_ref("BadRequest"),
                    "401": problem_ref("Unauthorized"),
                    "403": problem_ref("Forbidden"),
                    "404": problem_ref("NotFound"),
                    "500": problem_ref("InternalError")
                }
            }
        },
        "/api/v1/messages/{id}/ack": {
            "post": {
                "tags": ["gateway"],
                "operationId": "acknowledgeMessage",
                "summary": "Acknowledge a message (idempotent)",
                "description": "Marks the message as taken over by the intake; it leaves the default listing. The time is the provider's virtual clock. A second acknowledgement answers 200 with the same body (the first time is kept). No request body.",
                "security": bearer,
                "parameters": [id_param],
                "responses": {
                    "200": json_response("The acknowledged message", "Message"),
                    "400": problem_ref("BadRequest"),
                    "401": problem_ref("Unauthorized"),
                    "403": problem_ref("Forbidden"),
                    "404": problem_ref("NotFound"),
                    "500": problem_ref("InternalError")
                }
            }
        }
    })
}

/// The webhook registration, the directory and this document.
fn other_paths(bearer: &Value) -> Value {
    json!({
        "/api/v1/webhook": {
            "get": {
                "tags": ["gateway"],
                "operationId": "getWebhook",
                "summary": "The mailbox's webhook URL (null when none)",
                "security": bearer,
                "responses": {
                    "200": json_response("The webhook setting", "WebhookState"),
                    "401": problem_ref("Unauthorized"),
                    "500": problem_ref("InternalError")
                }
            },
            "put": {
                "tags": ["gateway"],
                "operationId": "setWebhook",
                "summary": "Register or replace the mailbox's webhook URL",
                "description": "Only http:// URLs on loopback (127.0.0.0/8, [::1], localhost) are accepted. For each new message laid into the mailbox the provider POSTs a `message.stored` event (see `webhooks`), once, with a 5 s timeout and no retry.",
                "security": bearer,
                "requestBody": {
                    "required": true,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookRequest"}}}
                },
                "responses": {
                    "200": json_response("The webhook is set", "WebhookState"),
                    "400": problem_ref("BadRequest"),
                    "401": problem_ref("Unauthorized"),
                    "413": problem_ref("BodyTooLarge"),
                    "422": problem_ref("InvalidWebhook"),
                    "500": problem_ref("InternalError")
                }
            },
            "delete": {
                "tags": ["gateway"],
                "operationId": "deleteWebhook",
                "summary": "Remove the mailbox's webhook (idempotent)",
                "security": bearer,
                "responses": {
                    "200": json_response("No webhook is set now", "WebhookState"),
                    "401": problem_ref("Unauthorized"),
                    "500": problem_ref("InternalError")
                }
            }
        },
        "/directory/v1/entries/{address}": {
            "get": {
                "tags": ["directory"],
                "operationId": "getDirectoryEntry",
                "summary": "Directory entry of a De-Mail address hosted by this provider",
                "description": "Public, no token. Attribute names as in the LDAP schema of IT-BInfra-IO §6.2.",
                "security": [],
                "parameters": [{
                    "name": "address",
                    "in": "path",
                    "required": true,
                    "description": "The De-Mail address (case-insensitive)",
                    "schema": {"type": "string"},
                    "example": "gewerbeangelegenheiten@dresden.de-mail.de"
                }],
                "responses": {
                    "200": json_response("The entry", "DirectoryEntry"),
                    "400": problem_ref("BadRequest"),
                    "404": problem_ref("NotFound")
                }
            }
        },
        "/testbed/deliveries": {
            "get": {
                "tags": ["testbed"],
                "operationId": "listDeliveries",
                "summary": "The provider's delivery queue: pushes into intakes and hand-overs to peer providers",
                "description": "Open, no token, read-only. No message content: per job the queue id, mailbox, X-de-mail-message-id, receiver address, state, attempts, virtual times and the reason of the last failed attempt (the receiver's reply code and text, or the connection or TLS error). In queue order, paged by queue id.",
                "security": [],
                "parameters": [
                    {"name": "since", "in": "query", "required": false, "description": "Only jobs with a larger queue id; pass the `next_cursor` of the previous page", "schema": {"type": "string", "pattern": "^[0-9]+$", "default": "0"}},
                    {"$ref": "#/components/parameters/Limit"},
                    {"name": "state", "in": "query", "required": false, "description": "Only jobs in this state", "schema": {"type": "string", "enum": ["pending", "retry", "delivered", "failed"]}}
                ],
                "responses": {
                    "200": json_response("One page of the queue", "DeliveryList"),
                    "400": problem_ref("BadQuery"),
                    "500": problem_ref("InternalError")
                }
            }
        },
        "/openapi.json": {
            "get": {
                "tags": ["meta"],
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1 document",
                        "content": {"application/json": {"schema": {"type": "object"}}}
                    }
                }
            }
        }
    })
}

/// Security scheme, parameters, responses and schemas the paths refer to.
fn components() -> Value {
    json!({
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "The account's API token (AccountConfig::api_token). Missing or wrong: 401 with WWW-Authenticate: Bearer."
            }
        },
        "parameters": {
            "MessageId": {
                "name": "id",
                "in": "path",
                "required": true,
                "description": "The X-de-mail-message-id (percent-encode reserved characters)",
                "schema": {"type": "string"},
                "example": "m000001@dmda-a.de-mail.de"
            },
            "Since": {
                "name": "since",
                "in": "query",
                "required": false,
                "description": "Only messages after this cursor (a `cursor` or `next_cursor` of an earlier answer). Default: from the start (\"0\").",
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
                "example": "0"
            },
            "Limit": {
                "name": "limit",
                "in": "query",
                "required": false,
                "description": "Largest number of messages in the answer",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
            },
            "Include": {
                "name": "include",
                "in": "query",
                "required": false,
                "description": "`acknowledged`: list acknowledged messages too",
                "schema": {"type": "string", "enum": ["acknowledged"]}
            }
        },
        "responses": {
            "BadQuery": problem_response("Invalid query parameter", problem_type::INVALID_QUERY, 400, "limit=\"abc\" must be a whole number from 1 to 1000"),
            "BadRequest": problem_response("Invalid request", problem_type::INVALID_REQUEST, 400, "expected {\"url\": \"http://127.0.0.1:<port>/<path>\"}"),
            "Unauthorized": {
                "description": "Missing or wrong bearer token",
                "headers": {
                    "WWW-Authenticate": {
                        "description": "Bearer challenge (RFC 6750 §3), with error=\"invalid_token\" when a token was presented",
                        "schema": {"type": "string"},
                        "example": "Bearer realm=\"demail-gateway\""
                    }
                },
                "content": {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": {"type": problem_type::UNAUTHORIZED, "title": "Unauthorized", "status": 401, "detail": "The bearer token is not valid for any account"}
                }}
            },
            "Forbidden": problem_response("Forbidden", problem_type::FORBIDDEN, 403, "X-de-mail-message-id \"m000009@dmda-a.de-mail.de\" belongs to another account; a token sees only its own mailbox"),
            "NotFound": problem_response("Not found", problem_type::NOT_FOUND, 404, "Your mailbox holds no message with X-de-mail-message-id \"m000009@dmda-a.de-mail.de\""),
            "BodyTooLarge": problem_response("Request body too large", problem_type::BODY_TOO_LARGE, 413, "the request declares a body of 1000000000000 bytes (Content-Length); this face takes at most 65536 bytes"),
            "InvalidWebhook": problem_response("Webhook URL not accepted", problem_type::INVALID_WEBHOOK, 422, "host example.org is not loopback; only 127.0.0.0/8, [::1] and localhost are accepted"),
            "InternalError": problem_response("Internal error", problem_type::INTERNAL, 500, "The provider could not read or write its store; nothing was changed. Try again later.")
        },
        "schemas": {
            "Problem": {
                "type": "object",
                "description": "RFC 9457 problem details",
                "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": {"type": "string", "format": "uri-reference", "description": "urn:demail-testbed:problem:<kind>"},
                    "title": {"type": "string"},
                    "status": {"type": "integer", "minimum": 400, "maximum": 599},
                    "detail": {"type": "string", "description": "What went wrong and what to do about it"}
                }
            },
            "Message": {
                "type": "object",
                "required": ["id", "cursor", "mailbox", "message_type", "from", "subject", "private_id", "rfc_message_id", "in_reply_to", "stored_at", "size", "acknowledged", "acknowledged_at"],
                "properties": {
                    "id": {"type": "string", "description": "X-de-mail-message-id"},
                    "cursor": {"type": "string", "pattern": "^[0-9]+$", "description": "Position in Eingang order; stable; use as `since`"},
                    "mailbox": {"type": "string", "format": "email"},
                    "message_type": {"type": "string", "enum": ["normal", "confirmation of dispatch", "confirmation of receipt", "confirmation of retrieve", "notification"], "description": "X-de-mail-message-type (PVD-IO Tabelle 12)"},
                    "from": {"type": "string", "description": "Sender address"},
                    "subject": {"type": "string", "description": "Decoded Subject"},
                    "private_id": {"type": ["string", "null"], "description": "X-de-mail-private-id"},
                    "rfc_message_id": {"type": ["string", "null"], "description": "Message-ID, with angle brackets"},
                    "in_reply_to": {"type": ["string", "null"], "description": "In-Reply-To, with angle brackets"},
                    "stored_at": {"type": "string", "format": "date-time", "description": "The Eingang (virtual time, RFC 3339, UTC)"},
                    "size": {"type": "integer", "minimum": 0, "description": "Bytes of the stored message"},
                    "acknowledged": {"type": "boolean"},
                    "acknowledged_at": {"type": ["string", "null"], "format": "date-time", "description": "First acknowledgement (virtual time)"}
                }
            },
            "MessageList": {
                "type": "object",
                "required": ["mailbox", "messages", "next_cursor", "has_more"],
                "properties": {
                    "mailbox": {"type": "string", "format": "email"},
                    "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
                    "next_cursor": {"type": "string", "pattern": "^[0-9]+$", "description": "Pass as `since` to continue: the last message's cursor, or `since` itself when the page is empty"},
                    "has_more": {"type": "boolean", "description": "More messages follow after next_cursor right now"}
                }
            },
            "WebhookRequest": {
                "type": "object",
                "required": ["url"],
                "properties": {
                    "url": {"type": "string", "format": "uri", "maxLength": super::webhook::MAX_URL_LEN, "examples": ["http://127.0.0.1:8080/demail"]}
                }
            },
            "WebhookState": {
                "type": "object",
                "required": ["mailbox", "url"],
                "properties": {
                    "mailbox": {"type": "string", "format": "email"},
                    "url": {"type": ["string", "null"], "format": "uri"}
                }
            },
            "StoredEvent": {
                "type": "object",
                "required": ["event", "id", "mailbox"],
                "properties": {
                    "event": {"const": "message.stored"},
                    "id": {"type": "string", "description": "X-de-mail-message-id"},
                    "mailbox": {"type": "string", "format": "email"}
                }
            },
            "Delivery": {
                "type": "object",
                "description": "One job of the delivery queue (virtual times, RFC 3339, UTC). No message content.",
                "required": ["queue_id", "kind", "mailbox", "message_id", "target", "state", "attempts", "queued_at", "due_at", "next_attempt_at", "delivered_at", "last_error"],
                "properties": {
                    "queue_id": {"type": "integer", "description": "Position in the queue; jobs go out in this order"},
                    "kind": {"type": "string", "enum": ["push", "hand-over"], "description": "push: into the mailbox's intake; hand-over: to a peer provider's relay face"},
                    "mailbox": {"type": "string", "format": "email", "description": "The recipient mailbox"},
                    "message_id": {"type": "string", "description": "X-de-mail-message-id"},
                    "target": {"type": "string", "description": "The receiver's address (host:port)"},
                    "state": {"type": "string", "enum": ["pending", "retry", "delivered", "failed"]},
                    "attempts": {"type": "integer", "minimum": 0},
                    "queued_at": {"type": ["string", "null"], "format": "date-time", "description": "When the delivery worker was first handed the job"},
                    "due_at": {"type": ["string", "null"], "format": "date-time", "description": "The PVD-FU §4.2 limit"},
                    "next_attempt_at": {"type": ["string", "null"], "format": "date-time", "description": "When a job in state retry is tried next"},
                    "delivered_at": {"type": ["string", "null"], "format": "date-time"},
                    "last_error": {"type": ["string", "null"], "description": "Reason of the last failed attempt: the receiver's reply (code and text) or the connection or TLS error", "examples": ["permanent error (550): 5.1.1 mailbox unavailable"]}
                }
            },
            "DeliveryList": {
                "type": "object",
                "required": ["provider", "deliveries", "next_cursor", "has_more"],
                "properties": {
                    "provider": {"type": "string", "description": "The provider's id"},
                    "deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}},
                    "next_cursor": {"type": "string", "pattern": "^[0-9]+$", "description": "Pass as `since` to continue"},
                    "has_more": {"type": "boolean"}
                }
            },
            "DirectoryEntry": {
                "type": "object",
                "description": "IT-BInfra-IO §6.1–6.2 (LDAP schema, OID prefix 1.3.6.1.4.1.7924.2.1)",
                "required": ["mail", "cn", "demailMaxAuthLevel", "demailAccessOpening"],
                "properties": {
                    "mail": {"type": "string", "format": "email", "description": "The De-Mail address"},
                    "cn": {"type": "string", "description": "Name of the account holder"},
                    "demailMaxAuthLevel": {"type": "string", "enum": ["NORMAL", "HIGH"], "description": "Highest authentication level"},
                    "demailAccessOpening": {"type": "boolean", "description": "Zugangseröffnung (§ 7 Abs. 3 De-Mail-G)"}
                }
            }
        }
    })
}
