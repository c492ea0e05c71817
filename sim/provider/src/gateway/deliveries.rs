//! `GET /testbed/deliveries`: the provider's delivery queue on its HTTP face, read-only, so
//! that a failed push into an intake (or a hand-over to a peer provider) is visible without
//! opening the SQLite store. Reference: `docs/gateway.md`, "Delivery queue".
//!
//! Access rule: open, like the directory and `/openapi.json` (no token). It is the testbed
//! operator's view of the provider's outgoing traffic and shows no message content: per job
//! the queue id, mailbox, X-de-mail-message-id, receiver address, state, attempts, virtual
//! times and the reason of the last failed attempt (the receiver's reply or the connection
//! error), never a header other than the id, a subject or a body. It does name mailboxes
//! and recipients at peer providers, so the HTTP face should stay on loopback (its default)
//! or inside the test network.

use super::*;
use crate::store::{DeliveryRecord, DeliveryState};

/// The query of `GET /testbed/deliveries`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct DeliveriesQuery {
    /// Only jobs with a larger queue id (0: from the start).
    since: i64,
    limit: usize,
    /// Only jobs in this state.
    state: Option<DeliveryState>,
}

/// Reads the query string strictly: `since`, `limit`, `state`, each at most once.
pub(super) fn parse_query(query: Option<&str>) -> Result<DeliveriesQuery, String> {
    let mut q = DeliveriesQuery {
        since: 0,
        limit: DEFAULT_LIMIT,
        state: None,
    };
    let mut seen: Vec<String> = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name =
            percent_decode(name).ok_or("a parameter name is not valid percent-encoded UTF-8")?;
        let value = percent_decode(value)
            .ok_or_else(|| format!("the value of {name:?} is not valid percent-encoded UTF-8"))?;
        if seen.contains(&name) {
            return Err(format!(
                "parameter {:?} given more than once",
                truncate(&name, 40)
            ));
        }
        let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
        match name.as_str() {
            "since" => {
                q.since = value.parse().ok().filter(|_| digits).ok_or_else(|| {
                    format!(
                        "since={:?} is not a queue id; use the \"next_cursor\" of an earlier answer",
                        truncate(&value, 40)
                    )
                })?;
            }
            "limit" => {
                q.limit = value
                    .parse()
                    .ok()
                    .filter(|n| digits && (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "limit={:?} must be a whole number from 1 to {MAX_LIMIT}",
                            truncate(&value, 40)
                        )
                    })?;
            }
            "state" => {
                q.state = Some(DeliveryState::parse(&value).ok_or_else(|| {
                    format!(
                        "state={:?} is not known; use pending, retry, delivered or failed",
                        truncate(&value, 40)
                    )
                })?);
            }
            _ => {
                return Err(format!(
                    "unknown parameter {:?}; known: since, limit, state",
                    truncate(&name, 40)
                ));
            }
        }
        seen.push(name);
    }
    Ok(q)
}

/// The JSON of one job (schema `Delivery` in the OpenAPI document).
fn delivery_json(shared: &Shared, r: &DeliveryRecord) -> Value {
    let time = |t: Option<jiff::Timestamp>| t.map(|t| t.to_string());
    json!({
        "queue_id": r.id,
        "kind": if shared.hosts(&r.mailbox) { "push" } else { "hand-over" },
        "mailbox": r.mailbox,
        "message_id": r.message_id,
        "target": r.target,
        "state": r.state.as_str(),
        "attempts": r.attempts,
        "queued_at": time(r.queued_at),
        "due_at": time(r.due_at),
        "next_attempt_at": time(r.next_attempt_at),
        "delivered_at": time(r.delivered_at),
        "last_error": r.last_error,
    })
}

pub(super) async fn list_deliveries(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    off_runtime(move || list_deliveries_blocking(&shared, &uri)).await
}

fn list_deliveries_blocking(shared: &Shared, uri: &Uri) -> Response {
    let q = match parse_query(uri.query()) {
        Ok(q) => q,
        Err(detail) => return bad_query(detail),
    };
    // One more than asked tells whether another page follows.
    let page = lock(&shared.store).deliveries_page(q.since, q.limit + 1, q.state);
    let mut page = match page {
        Ok(p) => p,
        Err(e) => return internal("listing the delivery queue", e),
    };
    let has_more = page.len() > q.limit;
    page.truncate(q.limit);
    let next_cursor = page.last().map_or(q.since, |r| r.id);
    json_ok(json!({
        "provider": shared.config.id,
        "deliveries": page.iter().map(|r| delivery_json(shared, r)).collect::<Vec<_>>(),
        "next_cursor": next_cursor.to_string(),
        "has_more": has_more,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented forms are read; anything else is refused with a reason.
    #[test]
    fn query_is_read_strictly() {
        assert_eq!(
            parse_query(None).unwrap(),
            DeliveriesQuery {
                since: 0,
                limit: DEFAULT_LIMIT,
                state: None
            }
        );
        assert_eq!(
            parse_query(Some("since=7&limit=5&state=retry")).unwrap(),
            DeliveriesQuery {
                since: 7,
                limit: 5,
                state: Some(DeliveryState::Retry)
            }
        );
        for bad in [
            "since=-1",
            "since=",
            "limit=0",
            "limit=1001",
            "state=late",
            "state=1&state=2",
            "x=1",
            "%ff=1",
        ] {
            assert!(parse_query(Some(bad)).is_err(), "{bad}");
        }
    }
}
