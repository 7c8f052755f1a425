//! What each event of the client, card and ledger feeds changes in a tenant's [`Population`]. The
//! same function keeps the population current from the live feeds and rebuilds it from sequence 0,
//! so a rebuild answers exactly as the incremental model does. Days are the tenant's local days.
use super::column::Column;
use super::evaluate::day_number;
use super::population::Population;
use loyalty_api::events::v1::{self as ev, ClientStatus, event::Payload};
use loyalty_platform::text::fold;
use loyalty_platform::tz::TimeZone;
use uuid::Uuid;

/// The tenant's day of a timestamp.
fn local_day(ts: &Option<prost_types::Timestamp>, zone: &TimeZone) -> Option<i64> {
    let at = loyalty_platform::convert::from_timestamp(ts.as_ref()?)?;
    Some(day_number(loyalty_platform::tz::local_date(at, zone)))
}

fn date_day(d: &Option<loyalty_api::common::v1::Date>) -> Option<i64> {
    d.as_ref().and_then(super::validate::calendar).map(day_number)
}

fn id(text: &str) -> Option<Uuid> {
    Uuid::parse_str(text).ok()
}

/// Applies `event` to `p`; events that say nothing a filter uses change nothing.
pub fn apply(p: &mut Population, event: &ev::Event, zone: &TimeZone) {
    match &event.payload {
        Some(Payload::ClientUpserted(c)) => client(p, c, zone),
        Some(Payload::ClientTagsChanged(t)) => {
            if let Some(row) = id(&t.client_id).map(|c| p.row(c) as usize) {
                p.column("tags", Column::set).put_set(row, &t.tag_ids);
            }
        }
        Some(Payload::TagChanged(t)) => {
            if t.deleted {
                p.tag_names.remove(&t.tag_id);
            } else {
                p.tag_names.insert(t.tag_id.clone(), t.name.clone());
            }
        }
        Some(Payload::ClientBlocked(b)) => status(p, &b.client_id, ClientStatus::Blocked as i32),
        Some(Payload::ClientUnblocked(u)) => status(p, &u.client_id, u.restored_status),
        Some(Payload::ConsentChanged(c)) => {
            let day = local_day(&c.changed_at, zone).or_else(|| local_day(&event.occurred_at, zone));
            consent(p, c, day);
        }
        Some(Payload::ClientsMerged(m)) => {
            if let Some(survivor) = id(&m.survivor_client_id) {
                for merged in m.merged_client_ids.iter().filter_map(|i| id(i)) {
                    p.merge(survivor, merged);
                }
                let row = p.row(survivor);
                super::tally::recompute(p, row);
            }
        }
        Some(Payload::ClientDeleted(d)) => forget(p, &d.client_id),
        Some(Payload::ClientErased(e)) => forget(p, &e.client_id),
        Some(Payload::CardChanged(c)) => card(p, c, zone),
        Some(Payload::DeliveryChanged(d)) => delivery(p, d, event, zone),
        Some(Payload::PurchaseRecorded(r)) => purchase(p, r, zone),
        Some(Payload::PurchaseReturned(r)) => returned(p, r, zone),
        Some(Payload::BalanceChanged(b)) => {
            // The UTC day, read off the seconds (no zone is looked up on the ledger's busiest path).
            points_month(p, b, event.occurred_at.as_ref().map(|t| t.seconds.div_euclid(86_400)));
            balance(p, b, zone);
        }
        Some(Payload::LevelChanged(l)) => {
            if let Some(row) = id(&l.client_id).map(|c| p.row(c) as usize) {
                p.column("ledger.level", Column::text).put_text(row, &l.level_id);
                p.column("ledger.discount", Column::number).put_number(row, Some(i64::from(l.discount_basis_points)));
            }
        }
        _ => {}
    }
}

fn forget(p: &mut Population, client: &str) {
    if let Some(c) = id(client) {
        p.forget(c);
    }
}

fn status_word(status: i32) -> &'static str {
    match ClientStatus::try_from(status).unwrap_or(ClientStatus::Unspecified) {
        ClientStatus::Subscriber => "subscriber",
        ClientStatus::Blocked => "blocked",
        _ => "member",
    }
}

fn status(p: &mut Population, client: &str, status: i32) {
    if let Some(row) = id(client).map(|c| p.row(c) as usize) {
        p.column("client.status", Column::text).put_text(row, status_word(status));
    }
}

fn client(p: &mut Population, c: &ev::ClientUpserted, zone: &TimeZone) {
    let Some(client) = id(&c.client_id) else { return };
    let row = p.row(client) as usize;
    if c.changed_fields.iter().any(|f| f == super::history::IDENTIFICATION_COPY) {
        identification(p, row, c, zone);
        p.column("client.identified", Column::number).put_number(row, Some(i64::from(c.identified)));
        return;
    }
    let full_name = [c.first_name.as_str(), c.middle_name.as_str(), c.last_name.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let folded: [(&'static str, &str); 15] = [
        ("client.full_name", &full_name),
        ("client.first_name", &c.first_name),
        ("client.last_name", &c.last_name),
        ("client.middle_name", &c.middle_name),
        ("client.car_number", &c.car_number),
        ("client.city", &c.city),
        ("client.region", &c.region),
        ("client.address", &c.address),
        ("client.gender", &c.gender),
        ("client.added_by", &c.added_by),
        ("client.utm_source", c.utm.get("source").map(String::as_str).unwrap_or("")),
        ("client.utm_medium", c.utm.get("medium").map(String::as_str).unwrap_or("")),
        ("client.utm_campaign", c.utm.get("campaign").map(String::as_str).unwrap_or("")),
        ("client.utm_content", c.utm.get("content").map(String::as_str).unwrap_or("")),
        ("client.utm_term", c.utm.get("term").map(String::as_str).unwrap_or("")),
    ];
    for (fact, value) in folded {
        p.column(fact, Column::text).put_text(row, &fold(value.trim()));
        // Matched folded, shown as written: "Szymon Pawłowski", not "szymon pawlowski".
        if let Some(shown) = super::describe::shown_column(fact) {
            p.column(shown, Column::text).put_text(row, value.trim());
        }
    }
    const KEYS: [&str; 6] = [
        "client.additional_key_1",
        "client.additional_key_2",
        "client.additional_key_3",
        "client.additional_key_4",
        "client.additional_key_5",
        "client.additional_key_6",
    ];
    for (i, fact) in KEYS.into_iter().enumerate() {
        let key = c.additional_keys.get(i).map(String::as_str).unwrap_or("");
        p.column(fact, Column::text).put_text(row, &fold(key.trim()));
    }
    let exact: [(&'static str, &str); 4] = [
        ("client.phone", &c.phone),
        ("client.registration_store", &c.registration_store_id),
        ("client.referrer_id", &c.referrer_client_id),
        ("client.status", status_word(c.status)),
    ];
    for (fact, value) in exact {
        p.column(fact, Column::text).put_text(row, value);
    }
    p.column("client.email", Column::text).put_text(row, &c.email.trim().to_lowercase());
    let numbers: [(&'static str, Option<i64>); 7] = [
        ("client.birth_date", date_day(&c.birth_date)),
        ("client.registered_at", local_day(&c.registered_at, zone)),
        ("client.updated_at", local_day(&c.updated_at, zone)),
        ("client.phone_verified", Some(i64::from(c.phone_verified))),
        ("client.identified", Some(i64::from(c.identified))),
        ("consent.personal_data", Some(i64::from(c.personal_data_consent))),
        ("consent.third_party_transfer", Some(i64::from(c.third_party_transfer_consent))),
    ];
    identification(p, row, c, zone);
    for (fact, value) in numbers {
        p.column(fact, Column::number).put_number(row, value);
    }
    p.column("tags", Column::set).put_set(row, &c.tag_ids);
    children(p, row as u32, c);
}

/// The client's children as they are now (when they changed): the rows of the ones before stop
/// counting.
fn children(p: &mut Population, owner: u32, c: &ev::ClientUpserted) {
    let changed = c.changed_fields.is_empty() || c.changed_fields.iter().any(|f| f == "children");
    if !changed {
        return;
    }
    let table = p.table("children");
    for r in table.rows_of(owner).to_vec() {
        table.live.set(r as usize, false);
    }
    for child in &c.children {
        let r = table.add(owner, 0);
        table.column("children.name", Column::text).put_text(r, &fold(child.name.trim()));
        table.column("children.gender", Column::text).put_text(r, &child.gender);
        table.column("children.birth_date", Column::number).put_number(r, date_day(&child.birth_date));
    }
}

fn identification(p: &mut Population, row: usize, c: &ev::ClientUpserted, zone: &TimeZone) {
    let changed_on = local_day(&c.updated_at, zone).or_else(|| local_day(&c.registered_at, zone));
    if let Some(day) = changed_on {
        super::history::identified(p, row as u32, c.identified, day, local_day(&c.registered_at, zone));
    }
}

fn consent(p: &mut Population, c: &ev::ConsentChanged, day: Option<i64>) {
    let Some(row) = id(&c.client_id).map(|client| p.row(client) as usize) else { return };
    match c.agreement.as_str() {
        "personal_data" => {
            p.column("consent.personal_data", Column::number).put_number(row, Some(i64::from(c.granted)))
        }
        "third_party_transfer" => {
            p.column("consent.third_party_transfer", Column::number).put_number(row, Some(i64::from(c.granted)));
        }
        _ => {
            use loyalty_api::common::v1::{ConsentStatus, ContactChannel};
            let fact = match ContactChannel::try_from(c.channel).unwrap_or(ContactChannel::Unspecified) {
                ContactChannel::Email => "consent.email",
                ContactChannel::Sms => "consent.sms",
                ContactChannel::Push => "consent.push",
                ContactChannel::Telegram => "consent.telegram",
                _ => return,
            };
            let status = match ConsentStatus::try_from(c.status).unwrap_or(ConsentStatus::Unspecified) {
                ConsentStatus::Subscribed => "subscribed",
                ConsentStatus::Unsubscribed => "unsubscribed",
                _ => "unknown",
            };
            p.column(fact, Column::text).put_text(row, status);
            if let Some(day) = day {
                super::history::consent(p, row as u32, &fact["consent.".len()..], status, day);
            }
        }
    }
}

fn card(p: &mut Population, c: &ev::CardChanged, zone: &TimeZone) {
    let Some(owner) = id(&c.client_id).map(|client| p.owner_row(client)) else { return };
    let day = local_day(&c.issued_at, zone).unwrap_or(0);
    let table = p.table("cards");
    let r = table.row(&c.card_id, owner, day);
    let before = table.owner[r];
    table.set_owner(r, owner);
    for (fact, value) in [
        ("cards.number", c.number.as_str()),
        ("cards.template", &c.template_id),
        ("cards.kind", &c.kind),
        ("cards.issue_form", &c.issue_form_id),
        ("cards.store", &c.store_id),
        ("cards.status", &c.status),
    ] {
        table.column(fact, Column::text).put_text(r, value);
    }
    table.column("cards.wallet", Column::number).put_number(r, Some(i64::from(!c.wallet_link.is_empty())));
    p.refresh_card_numbers(owner);
    if before != owner {
        p.refresh_card_numbers(before);
    }
}

/// A step of a mailing as a row of `deliveries` on the day it was sent: "delivered" once the
/// provider accepted it (there are no receipts for email), then "opened", "clicked", "converted".
/// A failed message was never received and adds no row.
fn delivery(p: &mut Population, d: &ev::DeliveryChanged, event: &ev::Event, zone: &TimeZone) {
    let status = match d.status.as_str() {
        "sent" | "delivered" => "delivered",
        "failed" | "queued" | "" => return,
        other => other,
    };
    let Some(owner) = id(&d.client_id).map(|client| p.owner_row(client)) else { return };
    let day = local_day(&d.sent_at, zone).or_else(|| local_day(&event.occurred_at, zone)).unwrap_or(0);
    let channel = match loyalty_api::common::v1::ContactChannel::try_from(d.channel) {
        Ok(loyalty_api::common::v1::ContactChannel::Email) => "email",
        Ok(loyalty_api::common::v1::ContactChannel::Sms) => "sms",
        Ok(loyalty_api::common::v1::ContactChannel::Push) => "push",
        Ok(loyalty_api::common::v1::ContactChannel::Telegram) => "telegram",
        _ => "",
    };
    let table = p.table("deliveries");
    let r = table.row(&format!("{}:{status}", d.delivery_id), owner, day);
    table.set_owner(r, owner);
    table.column("deliveries.channel", Column::text).put_text(r, channel);
    table.column("deliveries.status", Column::text).put_text(r, status);
    table.column("deliveries.campaign", Column::text).put_text(r, &d.campaign_id);
    table.column("deliveries.manual", Column::number).put_number(r, Some(i64::from(d.manual)));
}

fn purchase(p: &mut Population, r: &ev::PurchaseRecorded, zone: &TimeZone) {
    let Some(owner) = id(&r.client_id).map(|client| p.owner_row(client)) else { return };
    let day = local_day(&r.purchased_at, zone).unwrap_or(0);
    let purchases = p.table("purchases");
    if purchases.find(&r.purchase_id).is_some() {
        return;
    }
    let row = purchases.row(&r.purchase_id, owner, day);
    let amount = r.amount.as_ref().map(|m| m.minor_units).unwrap_or(0);
    purchases.put_amount(row, amount);
    purchases.column("items", Column::number).put_number(row, Some(r.lines.len() as i64));
    for (column, value) in [
        ("store", &r.store_id),
        ("seller", &r.seller_id),
        ("promotion", &r.promotion_id),
        ("promo_code", &r.promo_code),
    ] {
        purchases.column(column, Column::text).put_text(row, value);
    }
    let lines = p.table("purchase_lines");
    for l in &r.lines {
        let line = lines.add(owner, day);
        lines.put_indexed("purchase_lines.sku", line, &l.sku);
        lines.put_indexed("purchase_lines.name", line, &fold(&l.name));
        lines.put_indexed("purchase_lines.category", line, &fold(&l.category));
        lines.column("purchase_lines.store", Column::text).put_text(line, &r.store_id);
        lines.column("purchase_lines.quantity", Column::number).put_number(line, Some(l.quantity_milli / 10));
        let minor = l.amount.as_ref().map(|m| m.minor_units);
        lines.column("purchase_lines.amount", Column::number).put_number(line, minor);
    }
    super::tally::recompute(p, owner);
}

fn returned(p: &mut Population, r: &ev::PurchaseReturned, zone: &TimeZone) {
    let Some(owner) = id(&r.client_id).map(|client| p.owner_row(client)) else { return };
    let day = local_day(&r.returned_at, zone).unwrap_or(0);
    let amount = r.amount.as_ref().map(|m| m.minor_units).unwrap_or(0);
    let returns = p.table("returns");
    if returns.find(&r.return_id).is_some() {
        return;
    }
    let row = returns.row(&r.return_id, owner, day);
    returns.put_amount(row, amount);
    returns.column("store", Column::text).put_text(row, &r.store_id);
    // What is left of the purchase; a purchase returned in full no longer counts as one.
    let purchases = p.table("purchases");
    if let Some(bought) = purchases.find(&r.purchase_id) {
        let left = purchases.columns.get("amount").and_then(|c| c.number_at(bought)).unwrap_or(0) - amount;
        purchases.put_amount(bought, left.max(0));
        if left <= 0 {
            purchases.live.set(bought, false);
        }
    }
    let lines = p.table("return_lines");
    for l in &r.lines {
        let line = lines.add(owner, day);
        lines.put_indexed("return_lines.sku", line, &l.sku);
        lines.put_indexed("return_lines.name", line, &fold(&l.name));
        lines.put_indexed("return_lines.category", line, &fold(&l.category));
        lines.column("return_lines.store", Column::text).put_text(line, &r.store_id);
        lines.column("return_lines.accepted_by", Column::text).put_text(line, &r.accepted_by);
    }
    super::tally::recompute(p, owner);
}

/// Adds what `b` changed against the client's last balance to the UTC month of `day` (the facts
/// table keeps a client's last balance of each UTC month, so a reload adds up the same).
fn points_month(p: &mut Population, b: &ev::BalanceChanged, day: Option<i64>) {
    let (Some(client), Some(day)) = (id(&b.client_id), day) else { return };
    let row = p.row(client) as usize;
    let before = |fact: &str| p.clients.get(fact).and_then(|c| c.number_at(row)).unwrap_or(0);
    let (earned, used, expired) = (
        b.earned_total - before("ledger.earned_total"),
        b.used - before("ledger.used"),
        b.expired - before("ledger.expired"),
    );
    let month = day - i64::from(super::evaluate::date_of(day).day()) + 1;
    let m = p.points_months.entry(month).or_default();
    m.earned = m.earned.saturating_add(earned);
    m.used = m.used.saturating_add(used);
    m.expired = m.expired.saturating_add(expired);
    if earned > 0 {
        m.earners.set(row, true);
    }
    if used > 0 {
        m.users.set(row, true);
    }
}

fn balance(p: &mut Population, b: &ev::BalanceChanged, zone: &TimeZone) {
    let Some(row) = id(&b.client_id).map(|c| p.row(c) as usize) else { return };
    let numbers: [(&'static str, Option<i64>); 8] = [
        ("ledger.available", Some(b.available)),
        ("ledger.pending", Some(b.pending)),
        ("ledger.used", Some(b.used)),
        ("ledger.expired", Some(b.expired)),
        ("ledger.earned_total", Some(b.earned_total)),
        ("ledger.next_expiry_at", local_day(&b.next_expiry_at, zone)),
        ("ledger.last_accrual_at", local_day(&b.last_accrual_at, zone)),
        ("ledger.last_write_off_at", local_day(&b.last_write_off_at, zone)),
    ];
    for (fact, value) in numbers {
        p.column(fact, Column::number).put_number(row, value);
    }
    if !b.level_id.is_empty() {
        p.column("ledger.level", Column::text).put_text(row, &b.level_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bits::Bits;
    use crate::domain::evaluate::{Context, evaluate};
    use crate::domain::text::parse;
    use loyalty_api::common::v1::Money;

    const ONA: &str = "00000000-0000-7000-8000-000000000001";
    const JONAS: &str = "00000000-0000-7000-8000-000000000002";

    fn at(rfc3339: &str) -> Option<prost_types::Timestamp> {
        let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).expect("time");
        Some(loyalty_platform::convert::to_timestamp(t))
    }

    fn event(payload: Payload) -> ev::Event {
        ev::Event { payload: Some(payload), ..Default::default() }
    }

    fn eur(minor: i64) -> Option<Money> {
        Some(Money { minor_units: minor, currency: "EUR".into() })
    }

    fn who(p: &Population, text: &str, today: time::Date) -> Vec<Uuid> {
        let none = |_: &str| -> Option<Bits> { None };
        let cx = Context { today: day_number(today), phone_region: "LT", segment: &none };
        let filter = parse(text).expect("filter");
        evaluate(p, &filter, &cx).rows().map(|r| p.id(r as u32)).collect()
    }

    #[test]
    fn the_feeds_make_the_facts_and_days_are_the_tenant_s_across_midnight_and_summer_time() {
        let zone = loyalty_platform::tz::stored("Europe/Vilnius");
        let mut p = Population::default();
        let (ona, jonas) = (id(ONA).expect("id"), id(JONAS).expect("id"));
        // 22:30 UTC on 9 March is 00:30 on 10 March in Vilnius.
        let upsert = |client: &str, city: &str, registered: &str| ev::ClientUpserted {
            client_id: client.into(),
            first_name: "Ona".into(),
            city: city.into(),
            registered_at: at(registered),
            ..Default::default()
        };
        apply(&mut p, &event(Payload::ClientUpserted(upsert(ONA, "Vilnius", "2026-03-09T22:30:00Z"))), &zone);
        apply(&mut p, &event(Payload::ClientUpserted(upsert(JONAS, "Kaunas", "2026-03-09T21:30:00Z"))), &zone);
        let march_10 = time::macros::date!(2026 - 03 - 10);
        assert_eq!(
            who(&p, "client.registered_at days ago between 0 and 0", march_10),
            [ona],
            "Jonas joined on the 9th there"
        );

        // Summer time begins on 29 March at 03:00: 00:30 that night is still +02:00, and 00:30 on
        // 25 October (after the summer) is +03:00 the evening before in UTC.
        let buy = |purchase: &str, client: &str, when: &str, amount: i64, sku: &str| ev::PurchaseRecorded {
            purchase_id: purchase.into(),
            client_id: client.into(),
            store_id: "VLN-01".into(),
            purchased_at: at(when),
            amount: eur(amount),
            lines: vec![ev::PurchaseLineFacts {
                sku: sku.into(),
                quantity_milli: 2_000,
                amount: eur(amount),
                ..Default::default()
            }],
            ..Default::default()
        };
        apply(&mut p, &event(Payload::PurchaseRecorded(buy("p1", ONA, "2026-03-28T22:30:00Z", 5_000, "MILK"))), &zone);
        apply(
            &mut p,
            &event(Payload::PurchaseRecorded(buy("p2", JONAS, "2026-10-24T21:30:00Z", 9_000, "SNEAKER"))),
            &zone,
        );
        // A purchase applied twice (a redelivered event) counts once.
        apply(
            &mut p,
            &event(Payload::PurchaseRecorded(buy("p2", JONAS, "2026-10-24T21:30:00Z", 9_000, "SNEAKER"))),
            &zone,
        );
        assert_eq!(who(&p, "purchases.date between 2026-03-29 and 2026-03-29", march_10), [ona]);
        assert_eq!(who(&p, "purchases.date = 2026-10-25", march_10), [jonas]);
        assert_eq!(who(&p, "purchases.count = 1", march_10), [ona, jonas]);

        // A full return: the purchase no longer counts, the returned line is a fact.
        let back = ev::PurchaseReturned {
            return_id: "r1".into(),
            purchase_id: "p2".into(),
            client_id: JONAS.into(),
            returned_at: at("2026-10-26T10:00:00Z"),
            amount: eur(9_000),
            lines: vec![ev::PurchaseLineFacts { sku: "SNEAKER".into(), quantity_milli: 1_000, ..Default::default() }],
            ..Default::default()
        };
        apply(&mut p, &event(Payload::PurchaseReturned(back)), &zone);
        assert_eq!(who(&p, "purchases.count = 0", march_10), [jonas]);
        assert_eq!(who(&p, r#"return_lines.sku = "SNEAKER""#, march_10), [jonas]);
        assert_eq!(who(&p, "returns.sum >= 90.00", march_10), [jonas]);

        // Consents, blocks, balances and levels.
        let sms = ev::ConsentChanged {
            client_id: ONA.into(),
            channel: loyalty_api::common::v1::ContactChannel::Sms as i32,
            status: loyalty_api::common::v1::ConsentStatus::Subscribed as i32,
            ..Default::default()
        };
        apply(&mut p, &event(Payload::ConsentChanged(sms)), &zone);
        let third = ev::ConsentChanged {
            client_id: JONAS.into(),
            agreement: "third_party_transfer".into(),
            granted: true,
            ..Default::default()
        };
        apply(&mut p, &event(Payload::ConsentChanged(third)), &zone);
        apply(
            &mut p,
            &event(Payload::ClientBlocked(ev::ClientBlocked { client_id: JONAS.into(), ..Default::default() })),
            &zone,
        );
        let balance = ev::BalanceChanged {
            client_id: ONA.into(),
            available: 120,
            earned_total: 150,
            used: 130,
            level_id: "gold".into(),
            ..Default::default()
        };
        apply(&mut p, &event(Payload::BalanceChanged(balance)), &zone);
        assert_eq!(who(&p, r#"consent.sms = "subscribed""#, march_10), [ona]);
        assert_eq!(who(&p, "consent.third_party_transfer = true", march_10), [jonas]);
        assert_eq!(who(&p, r#"client.status = "blocked""#, march_10), [jonas]);
        assert_eq!(who(&p, r#"ledger.available >= 100 and ledger.level = "gold""#, march_10), [ona]);
        assert_eq!(who(&p, "ledger.used_share > 80.00", march_10), [ona], "130 of 150 earned points used");

        // A merge moves Jonas's rows to Ona; an erase forgets Ona and all she had.
        let merged = ev::ClientsMerged { survivor_client_id: ONA.into(), merged_client_ids: vec![JONAS.into()] };
        apply(&mut p, &event(Payload::ClientsMerged(merged)), &zone);
        assert_eq!(who(&p, r#"return_lines.sku = "SNEAKER""#, march_10), [ona]);
        apply(&mut p, &event(Payload::ClientErased(ev::ClientErased { client_id: ONA.into() })), &zone);
        assert_eq!(who(&p, "purchases.count >= 0", march_10), Vec::<Uuid>::new());
    }
}
