//! Events the ledger publishes from its own sweeps, in the transaction of the change (LE-5 timeouts,
//! LE-8 activation and expiry): read models and messaging learn of expired points the way they
//! learn of purchases.
use crate::store::NewEntry;
use crate::store::balances::View;
use loyalty_api::common::v1::{Actor, actor::Kind};
use loyalty_api::events::v1::{self as ev, event::Payload};
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::{ClientId, ReservationId, TenantId};

/// The ledger itself, as the actor of what its sweeps change.
pub fn sweep_actor() -> Actor {
    Actor { kind: Kind::System as i32, id: String::new(), name: "ledger-sweep".into(), ..Default::default() }
}

fn event(tenant: &TenantId, client: ClientId, payload: Payload) -> ev::Event {
    loyalty_platform::outbox::event(tenant.as_str(), sweep_actor(), &client.to_string(), payload)
}

/// The balances of `view` as the `BalanceChanged` payload.
pub fn balance_changed(client: ClientId, view: &View) -> ev::BalanceChanged {
    let b = &view.balance;
    ev::BalanceChanged {
        client_id: client.to_string(),
        available: b.available,
        pending: b.pending,
        reserved: b.reserved,
        used: b.used,
        expired: b.expired,
        debt: b.debt,
        next_expiry_at: view.next_expiry_at.map(to_timestamp),
        next_expiry_points: view.next_expiry_points,
        last_accrual_at: view.activity.last_accrual_at.map(to_timestamp),
        last_write_off_at: view.activity.last_write_off_at.map(to_timestamp),
        earned_total: view.activity.earned_total,
        cancelled: b.cancelled,
        level_id: view.level_id.clone(),
    }
}

/// A `PointsLotChanged` for every lot that activated, expired or was cancelled by a return among
/// `entries` (whichever call advanced the account: the sweep, or a purchase that came first), with
/// the lot's expiry as `account` holds it.
pub fn lot_changes(
    tenant: &TenantId,
    client: ClientId,
    entries: &[NewEntry<'_>],
    account: &crate::domain::account::Account,
) -> Vec<ev::Event> {
    entries
        .iter()
        .filter_map(|e| {
            let change = match e.kind {
                "activated" | "expired" => e.kind,
                "cancelled_by_return" => "cancelled",
                _ => return None,
            };
            let lot = e.lot_no.and_then(|no| account.lots.iter().find(|l| l.id == no));
            let payload = ev::PointsLotChanged {
                lot_id: e.lot_no.map(|l| l.to_string()).unwrap_or_default(),
                client_id: client.to_string(),
                points: e.points.abs(),
                change: change.into(),
                expires_at: lot.and_then(|l| l.expires_at).map(to_timestamp),
            };
            Some(event(tenant, client, Payload::PointsLotChanged(payload)))
        })
        .collect()
}

/// The account's new balances after a sweep changed it.
pub fn balance(tenant: &TenantId, client: ClientId, view: &View) -> ev::Event {
    event(tenant, client, Payload::BalanceChanged(balance_changed(client, view)))
}

/// A reservation that ran out of time, and the account's new balances.
pub fn timed_out(
    tenant: &TenantId,
    client: ClientId,
    reservation: ReservationId,
    (points, order_ref): (i64, &str),
    view: &View,
) -> Vec<ev::Event> {
    let payload = ev::ReservationChanged {
        reservation_id: reservation.to_string(),
        client_id: client.to_string(),
        points,
        state: "timed_out".into(),
        order_ref: order_ref.into(),
        committed_points: 0,
    };
    vec![event(tenant, client, Payload::ReservationChanged(payload)), balance(tenant, client, view)]
}

/// The `LevelChanged` payload when the client moved from `previous` to `now` (LE-9): a level first
/// assigned (`previous` empty) is a change too.
pub fn level_payload(
    client: ClientId,
    (previous, now): (&str, &str),
    programme: &crate::domain::programme::Programme,
) -> Option<ev::LevelChanged> {
    if previous == now {
        return None;
    }
    let level = programme.levels.iter().find(|l| l.id == now);
    Some(ev::LevelChanged {
        client_id: client.to_string(),
        level_id: now.to_string(),
        level_name: level.map(|l| l.name.clone()).unwrap_or_default(),
        discount_basis_points: level.map(|l| l.discount_bp as i32).unwrap_or(0),
        previous_level_id: previous.to_string(),
    })
}

/// A level the ledger itself moved (a merge, a programme change).
pub fn level(
    tenant: &TenantId,
    client: ClientId,
    levels: (&str, &str),
    programme: &crate::domain::programme::Programme,
) -> Option<ev::Event> {
    level_payload(client, levels, programme).map(|p| event(tenant, client, Payload::LevelChanged(p)))
}

/// What a caller's change publishes; each builder names the event by what happened.
pub mod of_caller {
    use crate::domain::programme::Programme;
    use crate::domain::purchase::{Decision, Line};
    use crate::store::balances::View;
    use crate::store::purchases::NewPurchase;
    use crate::store::returns::{NewReturn, Returned};
    use loyalty_api::common::v1::Money;
    use loyalty_api::events::v1::{self as ev, event::Payload};
    use loyalty_platform::ClientId;
    use loyalty_platform::convert::to_timestamp;
    use loyalty_platform::request::Caller;

    fn lines(lines: &[Line], currency: &str) -> Vec<ev::PurchaseLineFacts> {
        lines
            .iter()
            .map(|l| ev::PurchaseLineFacts {
                sku: l.sku.clone(),
                name: l.name.clone(),
                category: l.category.clone(),
                quantity_milli: l.quantity_milli,
                amount: Some(Money { minor_units: l.amount_minor, currency: currency.to_string() }),
            })
            .collect()
    }

    pub fn purchase_recorded(ctx: &Caller, p: &NewPurchase, d: &Decision) -> ev::Event {
        let currency = p.currency.code();
        let payload = ev::PurchaseRecorded {
            purchase_id: p.id.to_string(),
            client_id: p.client_id.to_string(),
            card_id: p.card_id.clone(),
            store_id: p.store_id.clone(),
            seller_id: p.seller_id.clone(),
            purchased_at: Some(to_timestamp(p.purchased_at)),
            amount: Some(Money { minor_units: p.amount_minor, currency: currency.to_string() }),
            payment_method: p.payment_method.clone(),
            lines: lines(&p.lines, currency),
            promo_code: p.promo_code.clone(),
            promotion_id: p.promotion_id.clone(),
            points_earned: d.earned,
            points_spent: d.spent,
            manual: p.manual,
        };
        ctx.event(&p.id.to_string(), Payload::PurchaseRecorded(payload))
    }

    pub fn purchase_returned(ctx: &Caller, r: &NewReturn, done: &Returned) -> ev::Event {
        let payload = ev::PurchaseReturned {
            return_id: r.id.to_string(),
            purchase_id: r.purchase_id.to_string(),
            client_id: done.client.to_string(),
            store_id: r.store_id.clone(),
            accepted_by: r.accepted_by.clone(),
            returned_at: Some(to_timestamp(r.returned_at)),
            amount: Some(Money { minor_units: done.amount, currency: done.currency.clone() }),
            lines: lines(&done.lines, &done.currency),
            points_cancelled: done.cancelled,
            points_refunded: done.refunded,
        };
        ctx.event(&r.purchase_id.to_string(), Payload::PurchaseReturned(payload))
    }

    /// The account's balances after the change, as read models see them.
    pub fn balance_changed(ctx: &Caller, client: ClientId, view: &View) -> ev::Event {
        ctx.event(&client.to_string(), Payload::BalanceChanged(super::balance_changed(client, view)))
    }

    /// `LevelChanged` when a purchase or return moved the client to another level (LE-9).
    pub fn level_changed(
        ctx: &Caller,
        client: ClientId,
        (previous, now): (&str, &str),
        programme: &Programme,
    ) -> Option<ev::Event> {
        let payload = super::level_payload(client, (previous, now), programme)?;
        Some(ctx.event(&client.to_string(), Payload::LevelChanged(payload)))
    }

    pub fn reservation_changed(ctx: &Caller, held: &crate::store::reservations::Held) -> ev::Event {
        let payload = ev::ReservationChanged {
            reservation_id: held.id.to_string(),
            client_id: held.client.to_string(),
            points: held.points,
            state: held.state.clone(),
            order_ref: held.order_ref.clone(),
            committed_points: held.committed,
        };
        ctx.event(&held.client.to_string(), Payload::ReservationChanged(payload))
    }

    pub fn programme_changed(ctx: &Caller, p: &Programme) -> ev::Event {
        let payload = ev::ProgrammeChanged {
            version: p.version,
            currency: p.currency.clone(),
            levels: p
                .levels
                .iter()
                .map(|l| ev::ProgrammeLevel {
                    id: l.id.clone(),
                    name: l.name.clone(),
                    threshold: l.threshold,
                    discount_basis_points: l.discount_bp as i32,
                })
                .collect(),
        };
        ctx.event(ctx.tenant.as_str(), Payload::ProgrammeChanged(payload))
    }
}
