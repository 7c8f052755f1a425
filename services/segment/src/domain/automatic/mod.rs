//! The built-in segments (SE-4): VIP, active, sleeping, new, activity bands, prospects and
//! spenders, spender value and frequency, lifecycle, second purchase, birthday this month, and the
//! eleven RFM segments (SE-5). Each is a filter in the filter language, written from the tenant's
//! settings and the thresholds computed from its own clients each day, and saved in the tenant's
//! segments under a well-known id ("auto:vip"), so it is counted, listed, named in filters and
//! audiences, and publishes membership events exactly like a segment someone saved.
use super::column::{Column, NONE};
use super::population::Population;
use super::rfm;
use super::segments::{Kind, Saved, Segments};
use super::tally;
use loyalty_api::common::v1::Money;
use loyalty_api::filter::v1::Filter;
use loyalty_api::segment::v1 as pb;
use time::OffsetDateTime;
use uuid::Uuid;

/// The tenant's settings (the defaults are 000's and 003's rules).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub vip_monthly_spend_minor: i64,
    pub vip_monthly_purchases: i64,
    pub vip_points_used_bp: i64,
    pub vip_months_registered: i64,
    pub vip_window_days: i64,
    pub active_days: i64,
    pub sleeping_days: i64,
    pub new_days: i64,
    pub activity_active_days: i64,
    pub activity_low_risk_days: i64,
    pub big_share_bp: i64,
    pub medium_share_bp: i64,
    pub loyal_purchases: i64,
    pub at_risk_days: i64,
    pub rfm_look_back_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            vip_monthly_spend_minor: 50_000,
            vip_monthly_purchases: 10,
            vip_points_used_bp: 8_000,
            vip_months_registered: 6,
            vip_window_days: 30,
            active_days: 30,
            sleeping_days: 90,
            new_days: 30,
            activity_active_days: 7,
            activity_low_risk_days: 30,
            big_share_bp: 2_000,
            medium_share_bp: 3_000,
            loyal_purchases: 4,
            at_risk_days: 60,
            rfm_look_back_days: 365,
        }
    }
}

impl Settings {
    /// The settings a message holds; a field left at zero keeps the default.
    pub fn from_message(m: &pb::AutomaticSegmentSettings) -> Settings {
        let d = Settings::default();
        let or = |v: i32, default: i64| if v > 0 { i64::from(v) } else { default };
        Settings {
            vip_monthly_spend_minor: m.vip_monthly_spend.as_ref().map_or(d.vip_monthly_spend_minor, |x| x.minor_units),
            vip_monthly_purchases: or(m.vip_monthly_purchases, d.vip_monthly_purchases),
            vip_points_used_bp: or(m.vip_points_used_bp, d.vip_points_used_bp),
            vip_months_registered: or(m.vip_months_registered, d.vip_months_registered),
            vip_window_days: or(m.vip_window_days, d.vip_window_days),
            active_days: or(m.active_days, d.active_days),
            sleeping_days: or(m.sleeping_days, d.sleeping_days),
            new_days: or(m.new_days, d.new_days),
            activity_active_days: or(m.activity_active_days, d.activity_active_days),
            activity_low_risk_days: or(m.activity_low_risk_days, d.activity_low_risk_days),
            big_share_bp: or(m.big_spender_share_bp, d.big_share_bp),
            medium_share_bp: or(m.medium_spender_share_bp, d.medium_share_bp),
            loyal_purchases: or(m.lifecycle_loyal_purchases, d.loyal_purchases),
            at_risk_days: or(m.lifecycle_at_risk_days, d.at_risk_days),
            rfm_look_back_days: or(m.rfm_look_back_days, d.rfm_look_back_days),
        }
    }

    /// The settings as a message, money in `currency`.
    pub fn to_message(&self, currency: &str) -> pb::AutomaticSegmentSettings {
        let n = |v: i64| v as i32;
        pb::AutomaticSegmentSettings {
            vip_monthly_spend: Some(Money { minor_units: self.vip_monthly_spend_minor, currency: currency.into() }),
            vip_monthly_purchases: n(self.vip_monthly_purchases),
            vip_points_used_bp: n(self.vip_points_used_bp),
            vip_months_registered: n(self.vip_months_registered),
            active_days: n(self.active_days),
            sleeping_days: n(self.sleeping_days),
            new_days: n(self.new_days),
            vip_window_days: n(self.vip_window_days),
            activity_active_days: n(self.activity_active_days),
            activity_low_risk_days: n(self.activity_low_risk_days),
            big_spender_share_bp: n(self.big_share_bp),
            medium_spender_share_bp: n(self.medium_share_bp),
            lifecycle_loyal_purchases: n(self.loyal_purchases),
            lifecycle_at_risk_days: n(self.at_risk_days),
            rfm_look_back_days: n(self.rfm_look_back_days),
            ..Default::default()
        }
    }
}

/// What the tenant's clients give the spender segments, computed once a day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Thresholds {
    /// Lifetime spend (minor units) from which a spender is BIG, and MEDIUM.
    pub big_from: i64,
    pub medium_from: i64,
    /// Purchases per spender on average, thousandths.
    pub average_purchases_milli: i64,
    /// The day they were computed for.
    pub day: i64,
}

/// The spender thresholds of `p` today: the lifetime spend at the edge of the top
/// `big_share_bp` and of the next `medium_share_bp` of spenders, and the average purchases.
pub fn thresholds(p: &Population, s: &Settings, today: i64) -> Thresholds {
    let (count, sum) = (numbers(p, tally::COUNT), numbers(p, tally::SUM));
    let mut spends: Vec<i64> = Vec::new();
    let mut purchases = 0i64;
    for r in p.live.rows() {
        let n = count.get(r).copied().filter(|v| *v != NONE).unwrap_or(0);
        if n > 0 {
            purchases += n;
            spends.push(sum.get(r).copied().filter(|v| *v != NONE).unwrap_or(0));
        }
    }
    let average_purchases_milli = if spends.is_empty() { 0 } else { purchases * 1000 / spends.len() as i64 };
    spends.sort_unstable_by(|a, b| b.cmp(a));
    // The spend of the last client inside the top share (at least one client is BIG).
    let edge = |share_bp: i64| -> i64 {
        if spends.is_empty() {
            return 0;
        }
        let n = (spends.len() as u64 * share_bp.max(0) as u64).div_ceil(10_000).clamp(1, spends.len() as u64);
        spends[n as usize - 1]
    };
    let big_from = edge(s.big_share_bp);
    let medium_from = edge(s.big_share_bp + s.medium_share_bp).min(big_from);
    Thresholds { big_from, medium_from, average_purchases_milli, day: today }
}

fn numbers<'a>(p: &'a Population, name: &str) -> &'a [i64] {
    p.clients.get(name).map(Column::numbers).unwrap_or(&[])
}

/// A built-in segment: its id, kind, names and the filter it is answered with.
pub struct Definition {
    pub id: &'static str,
    pub kind: Kind,
    /// Names in English, Lithuanian, Russian, Polish and Romanian.
    pub names: [&'static str; 5],
    /// The filter's text, from the settings and today's thresholds.
    pub text: fn(&Settings, &Thresholds) -> String,
    /// What it means, in words.
    pub words: fn(&Settings, &Thresholds) -> String,
    /// The value of `rfm.segment` of an RFM segment; empty for the others.
    pub rfm: &'static str,
}

impl Definition {
    /// The uuid the segment is kept under (derived from the id, the same on every replica).
    pub fn uuid(&self) -> Uuid {
        UUIDS.iter().find(|(id, _)| *id == self.id).map_or_else(|| uuid_of(self.id), |(_, u)| *u)
    }

    pub fn name(&self, language: &str) -> &'static str {
        let short = language.split(['-', '_']).next().unwrap_or("").to_lowercase();
        super::facts::LANGUAGES.iter().position(|l| *l == short).map(|i| self.names[i]).unwrap_or(self.names[0])
    }

    /// The filter's text with today's settings and thresholds.
    pub fn filter_text(&self, s: &Settings, t: &Thresholds) -> String {
        if self.rfm.is_empty() { (self.text)(s, t) } else { format!("rfm.segment = \"{}\"", self.rfm) }
    }

    pub fn filter(&self, s: &Settings, t: &Thresholds) -> Filter {
        // The texts are written here and tested to parse; an error would be a bug of this table.
        super::text::parse(&self.filter_text(s, t)).unwrap_or_default()
    }
}

/// The uuid of a built-in id: two FNV-1a hashes of it, marked as a version 8 (custom) uuid, the
/// same on every replica and in every release.
fn uuid_of(id: &str) -> Uuid {
    let fnv = |seed: u64| id.bytes().fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    let bits = (u128::from(fnv(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(fnv(0x005e_9e47_0a17_4f6b));
    let mut bytes = bits.to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// Every built-in id with its uuid, computed once.
static UUIDS: std::sync::LazyLock<Vec<(&'static str, Uuid)>> =
    std::sync::LazyLock::new(|| ALL.iter().map(|d| (d.id, uuid_of(d.id))).collect());

/// The definition of a built-in id ("auto:vip") or of its uuid.
pub fn find(id: &str) -> Option<&'static Definition> {
    let id = id.trim();
    let at = match Uuid::parse_str(id) {
        Ok(u) => UUIDS.iter().position(|(_, x)| *x == u),
        Err(_) => UUIDS.iter().position(|(x, _)| *x == id),
    };
    at.map(|i| &ALL[i])
}

/// The well-known id of a built-in segment's uuid.
pub fn id_of(uuid: Uuid) -> Option<&'static str> {
    UUIDS.iter().find(|(_, u)| *u == uuid).map(|(id, _)| *id)
}

// Money in the filter text is written like the reports write it ("500.00").
use super::reports::money;

fn spender() -> &'static str {
    "purchases.first_at is set"
}

fn vip_text(s: &Settings, _: &Thresholds) -> String {
    let w = s.vip_window_days.max(1);
    format!(
        "purchases.sum(last {w} days) > {} and purchases.count(last {w} days) > {} and ledger.used_share > {} \
         and client.days_in_programme > {}",
        money(s.vip_monthly_spend_minor * w / 30),
        s.vip_monthly_purchases * w / 30,
        money(s.vip_points_used_bp),
        s.vip_months_registered * 30,
    )
}

fn rfm_text(_: &Settings, _: &Thresholds) -> String {
    String::new() // written from `Definition::rfm` instead
}

fn rfm_words(_: &Settings, _: &Thresholds) -> String {
    "clients whose RFM scores fall in this segment's cells of the grid (docs/segments.md)".into()
}

/// Every built-in segment, in the order they are listed.
pub static ALL: std::sync::LazyLock<Vec<Definition>> = std::sync::LazyLock::new(|| {
    let mut all = vec![
        Definition {
            id: "auto:vip",
            kind: Kind::Automatic,
            names: ["VIP", "VIP", "VIP", "VIP", "VIP"],
            text: vip_text,
            words: |s, _| {
                format!(
                    "over the last {} days spent more than {} a month and bought more than {} times a month, \
                     used more than {} % of the points they earned, and joined more than {} months ago",
                    s.vip_window_days,
                    money(s.vip_monthly_spend_minor),
                    s.vip_monthly_purchases,
                    money(s.vip_points_used_bp),
                    s.vip_months_registered
                )
            },
            rfm: "",
        },
        Definition {
            id: "auto:active",
            kind: Kind::Automatic,
            names: ["Active", "Aktyvūs", "Активные", "Aktywni", "Activi"],
            text: |s, _| format!("purchases.last_at days ago between 0 and {}", s.active_days - 1),
            words: |s, _| format!("bought within the last {} days, today included", s.active_days),
            rfm: "",
        },
        Definition {
            id: "auto:sleeping",
            kind: Kind::Automatic,
            names: ["Sleeping", "Miegantys", "Спящие", "Uśpieni", "Inactivi"],
            text: |s, _| format!("purchases.days_since_last >= {}", s.sleeping_days),
            words: |s, _| format!("bought before, but not in the last {} days", s.sleeping_days),
            rfm: "",
        },
        Definition {
            id: "auto:new",
            kind: Kind::Automatic,
            names: ["New", "Nauji", "Новые", "Nowi", "Noi"],
            text: |s, _| format!("client.registered_at days ago between 0 and {}", s.new_days - 1),
            words: |s, _| format!("joined within the last {} days, today included", s.new_days),
            rfm: "",
        },
        Definition {
            id: "auto:activity_active",
            kind: Kind::Automatic,
            names: [
                "Activity: active",
                "Aktyvumas: aktyvūs",
                "Активность: активные",
                "Aktywność: aktywni",
                "Activitate: activi",
            ],
            text: |s, _| format!("purchases.days_since_last between 0 and {}", s.activity_active_days - 1),
            words: |s, _| format!("last purchase less than {} days ago", s.activity_active_days),
            rfm: "",
        },
        Definition {
            id: "auto:activity_low_risk",
            kind: Kind::Automatic,
            names: [
                "Activity: low risk",
                "Aktyvumas: maža rizika",
                "Активность: низкий риск",
                "Aktywność: niskie ryzyko",
                "Activitate: risc scăzut",
            ],
            text: |s, _| {
                format!("purchases.days_since_last between {} and {}", s.activity_active_days, s.activity_low_risk_days)
            },
            words: |s, _| format!("last purchase {} to {} days ago", s.activity_active_days, s.activity_low_risk_days),
            rfm: "",
        },
        Definition {
            id: "auto:activity_high_risk",
            kind: Kind::Automatic,
            names: [
                "Activity: high risk",
                "Aktyvumas: didelė rizika",
                "Активность: высокий риск",
                "Aktywność: wysokie ryzyko",
                "Activitate: risc ridicat",
            ],
            text: |s, _| format!("purchases.days_since_last > {}", s.activity_low_risk_days),
            words: |s, _| format!("last purchase more than {} days ago", s.activity_low_risk_days),
            rfm: "",
        },
        Definition {
            id: "auto:prospects",
            kind: Kind::Automatic,
            names: [
                "Prospects",
                "Potencialūs pirkėjai",
                "Потенциальные покупатели",
                "Potencjalni klienci",
                "Clienți potențiali",
            ],
            text: |_, _| "purchases.first_at is not set".into(),
            words: |_, _| "never bought".into(),
            rfm: "",
        },
        Definition {
            id: "auto:spenders",
            kind: Kind::Automatic,
            names: ["Spenders", "Pirkėjai", "Покупатели", "Kupujący", "Cumpărători"],
            text: |_, _| spender().into(),
            words: |_, _| "bought at least once".into(),
            rfm: "",
        },
        Definition {
            id: "auto:big_spenders",
            kind: Kind::Automatic,
            names: ["BIG spenders", "Dideli pirkėjai", "Крупные покупатели", "Duzi klienci", "Cumpărători MARI"],
            text: |_, t| format!("{} and purchases.sum >= {}", spender(), money(t.big_from)),
            words: |s, t| {
                format!("the top {} % of spenders: lifetime spend from {}", money(s.big_share_bp), money(t.big_from))
            },
            rfm: "",
        },
        Definition {
            id: "auto:medium_spenders",
            kind: Kind::Automatic,
            names: [
                "MEDIUM spenders",
                "Vidutiniai pirkėjai",
                "Средние покупатели",
                "Średni klienci",
                "Cumpărători MEDII",
            ],
            text: |_, t| {
                format!(
                    "{} and purchases.sum >= {} and purchases.sum < {}",
                    spender(),
                    money(t.medium_from),
                    money(t.big_from)
                )
            },
            words: |_, t| format!("lifetime spend from {} to below {}", money(t.medium_from), money(t.big_from)),
            rfm: "",
        },
        Definition {
            id: "auto:small_spenders",
            kind: Kind::Automatic,
            names: ["SMALL spenders", "Maži pirkėjai", "Мелкие покупатели", "Mali klienci", "Cumpărători MICI"],
            text: |_, t| format!("{} and purchases.sum < {}", spender(), money(t.medium_from)),
            words: |_, t| format!("spenders with a lifetime spend below {}", money(t.medium_from)),
            rfm: "",
        },
        Definition {
            id: "auto:frequent",
            kind: Kind::Automatic,
            names: ["Frequent", "Dažni", "Частые", "Części", "Frecvenți"],
            text: |_, t| format!("purchases.count > {}", t.average_purchases_milli / 1000),
            words: |_, t| {
                format!("more purchases than the average spender ({})", money(t.average_purchases_milli / 10))
            },
            rfm: "",
        },
        Definition {
            id: "auto:repeat",
            kind: Kind::Automatic,
            names: ["Repeat", "Pakartotiniai", "Повторные", "Powracający", "Recurenți"],
            text: |_, t| {
                format!("purchases.count > 1 and purchases.count <= {}", (t.average_purchases_milli / 1000).max(1))
            },
            words: |_, _| "more than one purchase, but not more than the average spender".into(),
            rfm: "",
        },
        Definition {
            id: "auto:one_time",
            kind: Kind::Automatic,
            names: ["One-time", "Vienkartiniai", "Разовые", "Jednorazowi", "O singură dată"],
            text: |_, _| "purchases.count = 1".into(),
            words: |_, _| "exactly one purchase".into(),
            rfm: "",
        },
        Definition {
            id: "auto:lifecycle_new",
            kind: Kind::Automatic,
            names: ["Lifecycle: new", "Ciklas: nauji", "Цикл: новые", "Cykl życia: nowi", "Ciclu: noi"],
            text: |s, _| format!("purchases.first_at days ago between 0 and {}", s.new_days - 1),
            words: |s, _| format!("first purchase within the last {} days", s.new_days),
            rfm: "",
        },
        Definition {
            id: "auto:lifecycle_developing",
            kind: Kind::Automatic,
            names: [
                "Lifecycle: developing",
                "Ciklas: augantys",
                "Цикл: развивающиеся",
                "Cykl życia: rozwijający się",
                "Ciclu: în dezvoltare",
            ],
            text: |s, _| {
                format!(
                    "{} and not purchases.first_at days ago between 0 and {} and purchases.days_since_last <= {} \
                     and purchases.count < {}",
                    spender(),
                    s.new_days - 1,
                    s.at_risk_days,
                    s.loyal_purchases
                )
            },
            words: |s, _| format!("not new, not at risk, fewer than {} purchases", s.loyal_purchases),
            rfm: "",
        },
        Definition {
            id: "auto:lifecycle_loyal",
            kind: Kind::Automatic,
            names: ["Lifecycle: loyal", "Ciklas: lojalūs", "Цикл: лояльные", "Cykl życia: lojalni", "Ciclu: loiali"],
            text: |s, _| {
                format!(
                    "{} and not purchases.first_at days ago between 0 and {} and purchases.days_since_last <= {} \
                     and purchases.count >= {}",
                    spender(),
                    s.new_days - 1,
                    s.at_risk_days,
                    s.loyal_purchases
                )
            },
            words: |s, _| format!("not new, not at risk, at least {} purchases", s.loyal_purchases),
            rfm: "",
        },
        Definition {
            id: "auto:lifecycle_at_risk",
            kind: Kind::Automatic,
            names: [
                "Lifecycle: at risk",
                "Ciklas: rizikos grupė",
                "Цикл: под угрозой",
                "Cykl życia: zagrożeni",
                "Ciclu: în risc",
            ],
            text: |s, _| {
                format!(
                    "{} and not purchases.first_at days ago between 0 and {} and purchases.days_since_last > {}",
                    spender(),
                    s.new_days - 1,
                    s.at_risk_days
                )
            },
            words: |s, _| format!("not new, no purchase for more than {} days", s.at_risk_days),
            rfm: "",
        },
        Definition {
            id: "auto:second_purchase",
            kind: Kind::Automatic,
            names: ["Second purchase", "Antras pirkimas", "Второй заказ", "Drugi zakup", "A doua cumpărare"],
            text: |_, _| "purchases.count = 2".into(),
            words: |_, _| "exactly two purchases: the moment the third decides loyalty".into(),
            rfm: "",
        },
        Definition {
            id: "auto:birthday_this_month",
            kind: Kind::Automatic,
            names: [
                "Birthday this month",
                "Gimtadienis šį mėnesį",
                "День рождения в этом месяце",
                "Urodziny w tym miesiącu",
                "Ziua de naștere luna aceasta",
            ],
            text: |_, _| "client.birth_date anniversary in this month".into(),
            words: |_, _| "born in this calendar month".into(),
            rfm: "",
        },
    ];
    for (id, names, name) in RFM_SEGMENTS {
        all.push(Definition { id, kind: Kind::Rfm, names, text: rfm_text, words: rfm_words, rfm: name });
    }
    all
});

/// The RFM segments: id, names, and the value of `rfm.segment`.
const RFM_SEGMENTS: [(&str, [&str; 5], &str); 11] = [
    ("rfm:champions", ["Champions", "Čempionai", "Чемпионы", "Mistrzowie", "Campioni"], "champions"),
    ("rfm:loyal", ["Loyal", "Lojalūs", "Лояльные", "Lojalni", "Loiali"], "loyal"),
    (
        "rfm:potential_loyalists",
        ["Potential loyalists", "Būsimi lojalūs", "Потенциально лояльные", "Potencjalnie lojalni", "Potențial loiali"],
        "potential_loyalists",
    ),
    (
        "rfm:new_customers",
        ["New customers", "Nauji pirkėjai", "Новые покупатели", "Nowi klienci", "Clienți noi"],
        "new_customers",
    ),
    ("rfm:promising", ["Promising", "Perspektyvūs", "Перспективные", "Obiecujący", "Promițători"], "promising"),
    (
        "rfm:need_attention",
        ["Need attention", "Reikia dėmesio", "Требуют внимания", "Wymagający uwagi", "Necesită atenție"],
        "need_attention",
    ),
    (
        "rfm:about_to_sleep",
        ["About to sleep", "Užmiegantys", "Засыпающие", "Zasypiający", "Pe cale să adoarmă"],
        "about_to_sleep",
    ),
    ("rfm:at_risk", ["At risk", "Rizikos grupė", "Под угрозой", "Zagrożeni", "În risc"], "at_risk"),
    (
        "rfm:cannot_lose",
        ["Can't lose them", "Negalima prarasti", "Нельзя потерять", "Nie można stracić", "Nu trebuie pierduți"],
        "cannot_lose",
    ),
    ("rfm:hibernating", ["Hibernating", "Žiemojantys", "В спячке", "Hibernujący", "În hibernare"], "hibernating"),
    ("rfm:lost", ["Lost", "Prarasti", "Потерянные", "Utraceni", "Pierduți"], "lost"),
];

/// The tenant's built-in segments as its model holds them: the settings (with their version) and
/// the thresholds and RFM scores last computed.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub settings: Settings,
    /// 0 while the tenant keeps the defaults.
    pub version: i32,
    pub updated_at: Option<OffsetDateTime>,
    pub thresholds: Option<Thresholds>,
    pub computed_at: Option<OffsetDateTime>,
    /// The settings version the thresholds were computed with.
    pub computed_version: i32,
    /// Every client's RFM scores, computed with the thresholds.
    pub rfm: Option<rfm::Scored>,
    /// The model's position (facts applied) they were computed at.
    pub computed_facts: i64,
}

impl State {
    /// Whether the thresholds are due: never computed, computed for another day or with other
    /// settings, or the facts moved and `every` passed since.
    pub fn due(&self, today: i64, now: OffsetDateTime, facts: i64, every: time::Duration) -> bool {
        let stale = self.computed_facts != facts && self.computed_at.is_none_or(|at| now - at >= every);
        self.thresholds.is_none_or(|t| t.day != today) || self.computed_version != self.version || stale
    }
}

/// Saves every built-in segment into `segments`, from the settings and thresholds of `state`. The
/// version mixes both, so the membership publisher evaluates them again when either moves.
/// Before the first computation they are there with zero thresholds.
pub fn install(segments: &mut Segments, state: &State, now: OffsetDateTime) {
    let t = state.thresholds.unwrap_or_default();
    let version = (state.version.max(0) as i64 * 1_000_000 + t.day.rem_euclid(1_000_000)) as i32;
    let at = state.updated_at.unwrap_or(OffsetDateTime::UNIX_EPOCH);
    for d in ALL.iter() {
        let filter = d.filter(&state.settings, &t);
        let saved = Saved {
            id: d.uuid(),
            name: d.names[0].to_string(),
            colour: String::new(),
            description: (d.words)(&state.settings, &t),
            kind: d.kind,
            filter: Some(filter),
            version,
            created_at: at,
            updated_at: state.computed_at.unwrap_or(now),
            snapshot_at: None,
            members: Vec::new(),
            announce: false,
        };
        segments.insert(saved.id, saved);
    }
}

/// What a day's computation gives: the thresholds and the RFM scores, from the population as it
/// is (read only, so answers go on meanwhile).
pub fn compute(p: &Population, settings: &Settings, today: i64) -> (Thresholds, rfm::Scored) {
    (thresholds(p, settings, today), rfm::score(p, today, settings.rfm_look_back_days))
}

/// Keeps a day's computation: the RFM facts, the thresholds, and the built-in segments written
/// from them.
pub fn keep(
    p: &mut Population,
    segments: &mut Segments,
    state: &mut State,
    computed: (Thresholds, rfm::Scored),
    version: i32,
    (now, facts): (OffsetDateTime, i64),
) {
    let (thresholds, scored) = computed;
    state.computed_facts = facts;
    rfm::keep(p, &scored);
    state.thresholds = Some(thresholds);
    state.rfm = Some(scored);
    state.computed_at = Some(now);
    state.computed_version = version;
    install(segments, state, now);
}

#[cfg(test)]
mod tests;
