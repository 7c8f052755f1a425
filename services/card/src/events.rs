//! What the card service publishes: every card change (`CardChanged`, with the card as it is now),
//! replacements, merges and settings. Consumers: segment (card facts), messaging.
use crate::domain;
use loyalty_api::card::v1 as pb;
use loyalty_api::common::v1::Actor;
use loyalty_api::events::v1::{CardChanged, CardReplaced, CardSettingsChanged, CardsMerged, Event, event::Payload};
use loyalty_platform::request::Caller;

/// The `CardChanged` payload of a card as it is now; `change` says what happened ("issued").
pub fn card_changed(c: &pb::Card, change: &str) -> CardChanged {
    CardChanged {
        card_id: c.id.clone(),
        client_id: c.client_id.clone(),
        number: c.number.clone(),
        barcode: c.barcode.clone(),
        kind: domain::kind_name(c.kind).unwrap_or("physical").into(),
        template_id: c.template_id.clone(),
        issue_form_id: c.issue_form_id.clone(),
        store_id: c.store_id.clone(),
        status: domain::status_name(c.status).unwrap_or("active").into(),
        tags: c.tags.clone(),
        issued_at: c.created_at,
        change: change.into(),
        wallet_link: c.wallet_link.clone(),
    }
}

/// The caller changed card `c`.
pub fn changed(ctx: &Caller, c: &pb::Card, change: &str) -> Event {
    ctx.event(&c.id, Payload::CardChanged(card_changed(c, change)))
}

/// Card `c` changed because of a client event (`cause`): moved to a merge's survivor, erased.
pub fn touched(cause: &Event, c: &pb::Card, change: &str) -> Event {
    let actor: Actor = cause.actor.clone().unwrap_or_default();
    let payload = Payload::CardChanged(card_changed(c, change));
    let mut e = loyalty_platform::outbox::event(&cause.tenant_id, actor, &c.id, payload);
    e.traceparent = cause.traceparent.clone();
    e
}

pub fn replaced(ctx: &Caller, old: &pb::Card, new: &pb::Card) -> Event {
    let payload =
        CardReplaced { old_card_id: old.id.clone(), new_card_id: new.id.clone(), client_id: old.client_id.clone() };
    ctx.event(&old.id, Payload::CardReplaced(payload))
}

pub fn merged(ctx: &Caller, target: &pb::Card, merged: &[String]) -> Event {
    let payload = CardsMerged {
        target_card_id: target.id.clone(),
        merged_card_ids: merged.to_vec(),
        client_id: target.client_id.clone(),
    };
    ctx.event(&target.id, Payload::CardsMerged(payload))
}

/// A template, issue form or the numbering rule changed.
pub fn settings_changed(ctx: &Caller, setting: &str, (id, name, kind): (&str, &str, &str), change: &str) -> Event {
    let payload = CardSettingsChanged {
        setting: setting.into(),
        id: id.into(),
        name: name.into(),
        kind: kind.into(),
        change: change.into(),
    };
    ctx.event(if id.is_empty() { setting } else { id }, Payload::CardSettingsChanged(payload))
}
