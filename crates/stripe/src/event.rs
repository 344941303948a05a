//! Turns a verified Stripe event into a [`PaymentEvent`]. Only the fields
//! askgate needs are read; extra fields and unknown event types are fine.

use std::collections::HashMap;

use askgate_domain::UserId;
use askgate_domain::ledger::RefundShare;
use askgate_domain::payment::{
    CheckoutSessionId, PaidPayment, PaymentEvent, PaymentIntentId, PaymentStanding, StripeEventId,
};
use askgate_domain::ports::WebhookError;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The metadata keys askgate writes on its PaymentIntents and Checkout Sessions.
pub(crate) const META_USER_ID: &str = "user_id";
pub(crate) const META_PACKAGE: &str = "package";
pub(crate) const META_TOKENS: &str = "tokens";

#[derive(Deserialize)]
struct Envelope {
    id: StripeEventId,
    #[serde(rename = "type")]
    kind: String,
    created: Option<i64>,
    data: Option<EventData>,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

/// A payment intent id field that Stripe may also send expanded into the full object.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdOrObject {
    Id(PaymentIntentId),
    Object { id: PaymentIntentId },
}

impl IdOrObject {
    fn into_id(self) -> PaymentIntentId {
        match self {
            Self::Id(id) | Self::Object { id } => id,
        }
    }
}

#[derive(Deserialize)]
struct CheckoutSessionObject {
    id: CheckoutSessionId,
    payment_intent: Option<IdOrObject>,
    payment_status: Option<String>,
    amount_total: Option<i64>,
    currency: Option<String>,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
    client_reference_id: Option<String>,
    created: Option<i64>,
}

#[derive(Deserialize)]
struct PaymentIntentObject {
    id: PaymentIntentId,
    amount_received: Option<i64>,
    currency: Option<String>,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
    created: Option<i64>,
}

/// A charge or a dispute: both name the payment intent they belong to.
#[derive(Deserialize)]
struct PaymentIntentChild {
    payment_intent: Option<IdOrObject>,
    /// A charge's amount, and how much of it is refunded so far (cumulative).
    amount: Option<i64>,
    amount_refunded: Option<i64>,
    /// A dispute's status (`won`, `lost`, `warning_closed`, …).
    status: Option<String>,
}

impl PaymentIntentChild {
    /// A partial refund's share; `None` when the whole charge is refunded (or
    /// the amounts are missing, read as a full refund as before).
    fn refund_share(&self) -> Option<RefundShare> {
        match (self.amount_refunded, self.amount) {
            (Some(refunded_cents), Some(paid_cents))
                if paid_cents > 0 && (0..paid_cents).contains(&refunded_cents) =>
            {
                Some(RefundShare {
                    refunded_cents,
                    paid_cents,
                })
            }
            _ => None,
        }
    }
}

/// Parses the raw event body (already verified).
pub(crate) fn parse_event(payload: &[u8]) -> Result<PaymentEvent, WebhookError> {
    let envelope: Envelope = serde_json::from_slice(payload)
        .map_err(|err| malformed(format!("not a Stripe event: {err}")))?;
    let event_id = envelope.id;
    let event_created = envelope.created;

    match envelope.kind.as_str() {
        "checkout.session.completed" => {
            let session: CheckoutSessionObject = object_of(envelope.data)?;
            if session.payment_status.as_deref() == Some("paid") {
                paid_from_session(event_id, event_created, session)
            } else {
                // Delayed payment methods: the async_payment_* events follow.
                Ok(PaymentEvent::Ignored {
                    event_id,
                    event_type: envelope.kind,
                })
            }
        }
        "checkout.session.async_payment_succeeded" => {
            let session: CheckoutSessionObject = object_of(envelope.data)?;
            paid_from_session(event_id, event_created, session)
        }
        "checkout.session.async_payment_failed" => {
            let session: CheckoutSessionObject = object_of(envelope.data)?;
            Ok(PaymentEvent::CheckoutFailed {
                event_id,
                checkout_session_id: session.id,
            })
        }
        "payment_intent.succeeded" => {
            let intent: PaymentIntentObject = object_of(envelope.data)?;
            paid_from_intent(event_id, event_created, intent)
        }
        "charge.refunded" => {
            let charge: PaymentIntentChild = object_of(envelope.data)?;
            Ok(PaymentEvent::Refunded {
                event_id,
                share: charge.refund_share(),
                payment_intent_id: required(charge.payment_intent, "charge.payment_intent")?
                    .into_id(),
            })
        }
        "charge.dispute.created" => {
            let dispute: PaymentIntentChild = object_of(envelope.data)?;
            Ok(PaymentEvent::Disputed {
                event_id,
                payment_intent_id: required(dispute.payment_intent, "dispute.payment_intent")?
                    .into_id(),
            })
        }
        "charge.dispute.closed" | "charge.dispute.funds_reinstated" => {
            let dispute: PaymentIntentChild = object_of(envelope.data)?;
            let status = dispute.status.as_deref();
            let payment_intent_id = || {
                required(dispute.payment_intent, "dispute.payment_intent").map(IdOrObject::into_id)
            };
            // Funds are reinstated only to a merchant who won; an inquiry
            // closed without a chargeback (`warning_closed`) took no money.
            if envelope.kind == "charge.dispute.funds_reinstated"
                || matches!(status, Some("won" | "warning_closed"))
            {
                Ok(PaymentEvent::DisputeWon {
                    event_id,
                    payment_intent_id: payment_intent_id()?,
                })
            } else if status == Some("lost") {
                // The same as the dispute itself: the money is gone for good.
                Ok(PaymentEvent::Disputed {
                    event_id,
                    payment_intent_id: payment_intent_id()?,
                })
            } else {
                Ok(PaymentEvent::Ignored {
                    event_id,
                    event_type: envelope.kind,
                })
            }
        }
        _ => Ok(PaymentEvent::Ignored {
            event_id,
            event_type: envelope.kind,
        }),
    }
}

fn paid_from_session(
    event_id: StripeEventId,
    event_created: Option<i64>,
    session: CheckoutSessionObject,
) -> Result<PaymentEvent, WebhookError> {
    let metadata = session.metadata.unwrap_or_default();
    let user = user_from(
        [
            metadata.get(META_USER_ID).map(String::as_str),
            session.client_reference_id.as_deref(),
        ]
        .into_iter()
        .flatten(),
    );
    Ok(PaymentEvent::Paid(PaidPayment {
        event_id: Some(event_id),
        payment_intent_id: required(session.payment_intent, "checkout.session.payment_intent")?
            .into_id(),
        checkout_session_id: Some(session.id),
        user,
        package: metadata.get(META_PACKAGE).cloned(),
        amount_cents: required(session.amount_total, "checkout.session.amount_total")?,
        currency: required(session.currency, "checkout.session.currency")?,
        created_at: timestamp(session.created.or(event_created)),
        standing: PaymentStanding::default(),
    }))
}

fn paid_from_intent(
    event_id: StripeEventId,
    event_created: Option<i64>,
    intent: PaymentIntentObject,
) -> Result<PaymentEvent, WebhookError> {
    let metadata = intent.metadata.unwrap_or_default();
    Ok(PaymentEvent::Paid(PaidPayment {
        event_id: Some(event_id),
        payment_intent_id: intent.id,
        checkout_session_id: None,
        user: user_from(metadata.get(META_USER_ID).map(String::as_str)),
        package: metadata.get(META_PACKAGE).cloned(),
        amount_cents: required(intent.amount_received, "payment_intent.amount_received")?,
        currency: required(intent.currency, "payment_intent.currency")?,
        created_at: timestamp(intent.created.or(event_created)),
        standing: PaymentStanding::default(),
    }))
}

/// The first candidate that is a user id; `None` for payments not made
/// through askgate (or metadata someone edited by hand).
pub(crate) fn user_from<'a>(candidates: impl IntoIterator<Item = &'a str>) -> Option<UserId> {
    candidates.into_iter().find_map(|c| c.trim().parse().ok())
}

pub(crate) fn timestamp(seconds: Option<i64>) -> Option<DateTime<Utc>> {
    seconds.and_then(|s| DateTime::from_timestamp(s, 0))
}

fn object_of<T: DeserializeOwned>(data: Option<EventData>) -> Result<T, WebhookError> {
    let data = data.ok_or_else(|| malformed("event without data.object".to_owned()))?;
    serde_json::from_value(data.object)
        .map_err(|err| malformed(format!("unexpected data.object: {err}")))
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, WebhookError> {
    value.ok_or_else(|| malformed(format!("{field} is missing")))
}

const fn malformed(detail: String) -> WebhookError {
    WebhookError::MalformedPayload(detail)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_paid_checkout_without_payment_intent_is_malformed() {
        let body = br#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":
            {"id":"cs_1","payment_status":"paid","amount_total":500,"currency":"usd"}}}"#;
        assert!(matches!(
            parse_event(body),
            Err(WebhookError::MalformedPayload(detail)) if detail.contains("payment_intent")
        ));
    }

    #[test]
    fn an_expanded_payment_intent_is_read_by_its_id() {
        let body = br#"{"id":"evt_1","type":"charge.refunded","data":{"object":
            {"id":"ch_1","payment_intent":{"id":"pi_1","object":"payment_intent"}}}}"#;
        assert_eq!(
            parse_event(body).unwrap(),
            PaymentEvent::Refunded {
                event_id: StripeEventId::parse("evt_1").unwrap(),
                payment_intent_id: PaymentIntentId::parse("pi_1").unwrap(),
                share: None,
            }
        );
    }

    fn dispute_closed(kind: &str, status: &str) -> Vec<u8> {
        format!(
            r#"{{"id":"evt_2","type":"{kind}","data":{{"object":
            {{"id":"du_1","object":"dispute","payment_intent":"pi_1","status":"{status}"}}}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_dispute_closed_won_gives_back_and_closed_lost_stays_a_dispute() {
        let won = PaymentEvent::DisputeWon {
            event_id: StripeEventId::parse("evt_2").unwrap(),
            payment_intent_id: PaymentIntentId::parse("pi_1").unwrap(),
        };
        for (kind, status) in [
            ("charge.dispute.closed", "won"),
            ("charge.dispute.closed", "warning_closed"),
            ("charge.dispute.funds_reinstated", "won"),
        ] {
            assert_eq!(
                parse_event(&dispute_closed(kind, status)).unwrap(),
                won,
                "{kind} {status}"
            );
        }
        assert_eq!(
            parse_event(&dispute_closed("charge.dispute.closed", "lost")).unwrap(),
            PaymentEvent::Disputed {
                event_id: StripeEventId::parse("evt_2").unwrap(),
                payment_intent_id: PaymentIntentId::parse("pi_1").unwrap(),
            }
        );
        assert!(matches!(
            parse_event(&dispute_closed("charge.dispute.closed", "under_review")).unwrap(),
            PaymentEvent::Ignored { .. }
        ));
    }

    #[test]
    fn unknown_types_need_no_data() {
        let body = br#"{"id":"evt_9","type":"v2.core.account.updated","extra":[1,2]}"#;
        assert_eq!(
            parse_event(body).unwrap(),
            PaymentEvent::Ignored {
                event_id: StripeEventId::parse("evt_9").unwrap(),
                event_type: "v2.core.account.updated".to_owned()
            }
        );
    }

    #[test]
    fn a_body_that_is_not_an_event_is_malformed() {
        for body in [&b"[]"[..], b"not json", br#"{"type":"x"}"#] {
            assert!(matches!(
                parse_event(body),
                Err(WebhookError::MalformedPayload(_))
            ));
        }
    }

    #[test]
    fn a_garbled_user_id_falls_back_to_the_client_reference() {
        let user = "0192f0c4-5b1a-7c3e-9d2f-4a6b8c0d1e2f";
        assert_eq!(
            user_from(["not-a-uuid", user]).map(|u| u.to_string()),
            Some(user.to_owned())
        );
        assert_eq!(user_from(["nope"]), None);
    }
}
