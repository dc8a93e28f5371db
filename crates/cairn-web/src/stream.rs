//! The live stream of a tenant's events as server-sent events: the API's
//! `/api/v1/events/stream` and the web UI's records page both serve it.

use std::collections::{BTreeSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use cairn_domain::{Member, TenantId};
use cairn_events::Event;
use cairn_identity::Tokens;
use cairn_store::Db;
use futures_util::Stream;
use tokio::sync::broadcast;

use crate::AppState;

/// Follows a tenant's outbox for one live stream.
struct Follow {
    db: Db,
    tenant: TenantId,
    /// Every event at or before this id was sent (or predates the stream).
    cursor: String,
    /// Ids after `cursor` already sent. Ids are taken before their transaction commits, so a
    /// later id can commit first: the stream keeps looking behind its newest event until
    /// `SETTLE_MS` has passed, and sends each event once.
    sent: BTreeSet<String>,
    wakeups: broadcast::Receiver<TenantId>,
    ready: VecDeque<Event>,
    /// Read the outbox before waiting (at the start: a resumed stream may be behind).
    due: bool,
    /// The stream ends when the token that opened it expires (epoch ms); the client
    /// reconnects with a fresh one and `Last-Event-ID`.
    until: i64,
    /// It also ends when the token is revoked (its user's sessions ended), checked against
    /// the revocation epoch (from memory) at every turn, at least once a second.
    member: Member,
    tokens: Arc<Tokens>,
    draining: Arc<AtomicBool>,
}

/// How long an event id may wait for its transaction to commit and still be streamed.
const SETTLE_MS: i64 = 5_000;
/// Events read at once.
const READ: i64 = 500;

/// The smallest UUIDv7 of the millisecond `ms`, as text (ids compare as text).
fn first_id_at(ms: i64) -> String {
    let ms = ms.max(0) as u64;
    format!("{:08x}-{:04x}-0000-0000-000000000000", ms >> 16, ms & 0xffff)
}

impl Follow {
    /// Queues the events not yet sent, and moves the cursor past what has settled.
    fn take(&mut self, events: Vec<Event>) {
        let full = events.len() as i64 == READ;
        let last = events.last().map(|e| e.id.clone());
        for e in events {
            if self.sent.insert(e.id.clone()) {
                self.ready.push_back(e);
            }
        }
        let settled = first_id_at(cairn_domain::now_ms() - SETTLE_MS);
        while self.sent.first().is_some_and(|first| *first < settled) {
            self.cursor = self.sent.pop_first().unwrap_or_default();
        }
        // A burst larger than one read: move on rather than read the same rows again.
        if full
            && self.ready.is_empty()
            && let Some(last) = last
        {
            self.sent.retain(|id| *id > last);
            self.cursor = last;
        }
    }

    /// The next event, waiting for a wake-up (or polling every few seconds, for events
    /// another replica committed on SQLite). `None` ends the stream: shutting down.
    async fn next(&mut self) -> Option<Event> {
        let mut quiet = 0;
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(e);
            }
            if self.draining.load(Ordering::SeqCst) || cairn_domain::now_ms() >= self.until {
                return None;
            }
            if self.tokens.revocations().check(&self.member).await.is_err() {
                return None;
            }
            let woke = std::mem::take(&mut self.due)
                || match tokio::time::timeout(Duration::from_secs(1), self.wakeups.recv()).await {
                    Ok(Ok(t)) => t == self.tenant,
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => true,
                    Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                    Err(_) => {
                        quiet += 1;
                        quiet % 5 == 0
                    }
                };
            if !woke {
                continue;
            }
            match cairn_events::after(&self.db, self.tenant, Some(&self.cursor), READ).await {
                Ok(events) => self.take(events),
                Err(e) => tracing::warn!(error = %e, "live stream read failed"),
            }
        }
    }
}

/// How often an idle live stream sends a comment line.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// The live stream of `member`'s tenant's events from now (or after `Last-Event-ID`) until
/// the member's token expires or is revoked. `db` is the tenant's database.
pub(crate) async fn live(
    state: &AppState,
    db: Db,
    member: &Member,
    headers: &HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<>>, crate::ApiError> {
    let tenant = member.tenant.id;
    let wakeups = state.bus.subscribe();
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| uuid::Uuid::parse_str(v).is_ok())
        .map(str::to_owned);
    let cursor = match resume {
        Some(c) => c,
        None => cairn_events::recent(&db, tenant, 1, None).await?.pop().map(|e| e.id).unwrap_or_default(),
    };
    let follow = Follow {
        db,
        tenant,
        cursor,
        wakeups,
        sent: BTreeSet::new(),
        ready: VecDeque::new(),
        due: true,
        until: member.expires_at,
        member: member.clone(),
        tokens: state.tokens.clone(),
        draining: state.draining.clone(),
    };
    let events = futures_util::stream::unfold(follow, |mut f| async move {
        let e = f.next().await?;
        let sse = SseEvent::default().id(e.id.clone()).event(e.kind.clone()).data(e.envelope().to_string());
        Some((Ok(sse), f))
    });
    // A comment at once, so the client (and any proxy) sees the stream open before the
    // first event, and one every 15 s so idle connections are not cut.
    let opened = futures_util::stream::once(async { Ok(SseEvent::default().comment("connected")) });
    let stream = futures_util::StreamExt::chain(opened, events);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")))
}

#[cfg(test)]
mod tests {
    use super::first_id_at;

    #[test]
    fn the_first_id_of_a_millisecond_orders_with_real_ids() {
        let id = uuid::Uuid::now_v7().to_string();
        let ms = cairn_domain::now_ms();
        assert!(first_id_at(ms - 5_000) < id);
        assert!(first_id_at(ms + 5_000) > id);
        assert_eq!(first_id_at(0), "00000000-0000-0000-0000-000000000000");
    }
}
