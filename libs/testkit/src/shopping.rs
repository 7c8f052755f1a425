//! A demo client's two years, deterministic like the rest of the demo: when they joined (more of
//! them lately: the base grows), how their consents changed, and what they bought, with the
//! seasons of a retail year (December busiest, summer busy, February quiet), returns, and points
//! spent now and then. `loyalty dev up --demo` replays it through the API with the original times.
use super::demo::{DemoConsent, Rng};

/// How far back the demo goes.
pub const DEMO_DAYS: u64 = 730;

/// A product of the demo catalogue: SKU, name, category, unit price (cents).
pub const PRODUCTS: [(&str, &str, &str, i64); 12] = [
    ("MILK-1L", "Pienas 1 l", "Dairy", 129),
    ("BREAD-RYE", "Ruginė duona", "Bakery", 219),
    ("COFFEE-500", "Kava 500 g", "Drinks", 899),
    ("CHEESE-200", "Sūris 200 g", "Dairy", 349),
    ("APPLES-1KG", "Obuoliai 1 kg", "Fruit", 189),
    ("CHOC-100", "Šokoladas 100 g", "Sweets", 249),
    ("WINE-RED", "Raudonas vynas", "Drinks", 1_290),
    ("SALMON-300", "Lašiša 300 g", "Fish", 1_150),
    ("TEA-GREEN", "Žalioji arbata", "Drinks", 459),
    ("CANDLES-4", "Žvakės, 4 vnt.", "Home", 699),
    ("SUNSCREEN", "Apsauginis kremas", "Care", 1_490),
    ("GIFT-BOX", "Dovanų dėžutė", "Gifts", 2_490),
];

/// A consent change: days ago, the channel ("email", "sms"), the new status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentChange {
    pub days_ago: u64,
    pub channel: &'static str,
    pub status: DemoConsent,
}

/// A purchase: days ago, its lines (index into [`PRODUCTS`], pieces), whether it comes back a
/// few days later, and whether the buyer spends points on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoPurchase {
    pub days_ago: u64,
    pub lines: Vec<(usize, i64)>,
    pub returned_after: Option<u64>,
    pub spends_points: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    pub joined_days_ago: u64,
    /// Later changes, oldest first (the consents given at joining are the client's own).
    pub consents: Vec<ConsentChange>,
    /// Oldest first.
    pub purchases: Vec<DemoPurchase>,
}

/// How busy a day of the year is, in percent of the busiest (December).
fn season(day_of_year: u64) -> u64 {
    match day_of_year * 12 / 366 {
        11 => 100,
        10 => 75,
        6 | 7 => 70,
        1 => 35,
        _ => 50,
    }
}

/// The history of client `index` (of `seed`), who consented to email and SMS as given.
pub fn history(seed: u64, index: u64, email: DemoConsent, sms: DemoConsent, today_of_year: u64) -> History {
    let mut rng = Rng::new(seed.rotate_left(17) ^ index.wrapping_mul(0x9FB2_1C65_1E98_DF25) ^ 0x5EA5_0115);
    // sqrt-shaped: more clients joined lately.
    let u = rng.below(10_000) as f64 / 10_000.0;
    let joined_days_ago = ((DEMO_DAYS as f64) * (1.0 - u.sqrt())) as u64;
    let mut consents = Vec::new();
    for (channel, given) in [("email", email), ("sms", sms)] {
        let change = match given {
            DemoConsent::Subscribed if rng.chance(15) => Some(DemoConsent::Unsubscribed),
            DemoConsent::Unknown if rng.chance(30) => Some(DemoConsent::Subscribed),
            _ => None,
        };
        if let Some(status) = change.filter(|_| joined_days_ago > 1) {
            let days_ago = rng.below(joined_days_ago);
            consents.push(ConsentChange { days_ago, channel, status });
        }
    }
    consents.sort_by_key(|c| std::cmp::Reverse(c.days_ago));
    let count = match rng.below(100) {
        0..=29 => 0,
        30..=59 => 1,
        60..=79 => 2 + rng.below(2),
        80..=94 => 4 + rng.below(5),
        _ => 9 + rng.below(12),
    };
    let mut purchases = Vec::new();
    let mut tries = 0;
    while purchases.len() < count as usize && tries < 200 {
        tries += 1;
        let days_ago = rng.below(joined_days_ago + 1);
        let day_of_year = (today_of_year + 366 * 3 - days_ago % 366) % 366;
        if rng.below(100) >= season(day_of_year) {
            continue;
        }
        let mut lines = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let product = rng.below(PRODUCTS.len() as u64) as usize;
            if !lines.iter().any(|(p, _)| *p == product) {
                lines.push((product, 1 + rng.below(3) as i64));
            }
        }
        let returned_after = (rng.chance(4) && days_ago > 3).then(|| 1 + rng.below(3));
        purchases.push(DemoPurchase { days_ago, lines, returned_after, spends_points: rng.chance(20) });
    }
    purchases.sort_by_key(|p| std::cmp::Reverse(p.days_ago));
    History { joined_days_ago, consents, purchases }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histories_are_stable_and_have_seasons_returns_and_changes() {
        let all: Vec<History> =
            (0..3_000).map(|i| history(7, i, DemoConsent::Subscribed, DemoConsent::Unknown, 334)).collect();
        let again: Vec<History> =
            (0..3_000).map(|i| history(7, i, DemoConsent::Subscribed, DemoConsent::Unknown, 334)).collect();
        assert_eq!(all, again);
        let purchases: Vec<&DemoPurchase> = all.iter().flat_map(|h| &h.purchases).collect();
        assert!(all.iter().all(|h| h.purchases.iter().all(|p| p.days_ago <= h.joined_days_ago)));
        assert!(purchases.iter().any(|p| p.returned_after.is_some()));
        assert!(all.iter().any(|h| h.consents.iter().any(|c| c.status == DemoConsent::Unsubscribed)));
        assert!(all.iter().filter(|h| h.purchases.is_empty()).count() > 500, "prospects");
        // December (today is day 334, early December) is busier than February.
        let month = |p: &DemoPurchase| ((334 + 366 * 3 - p.days_ago % 366) % 366) * 12 / 366;
        let december = purchases.iter().filter(|p| month(p) == 11).count();
        let february = purchases.iter().filter(|p| month(p) == 1).count();
        assert!(december > 2 * february, "December {december}, February {february}");
        assert!(all.iter().filter(|h| h.joined_days_ago < 365).count() > all.len() / 2, "the base grows");
    }
}
