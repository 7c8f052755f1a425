//! One tenant's clients as the filters see them, in memory: a row per client with a column per
//! client fact, and tables of rows that belong to clients (purchases, purchase lines, returns,
//! return lines, cards, children, deliveries), each row with its owner, its day and its facts.
//! Filters are answered from here; the feeds keep it current.
use super::bits::Bits;
use super::column::Column;
use super::day_order::{DayOrder, Placed};
use std::collections::HashMap;
use uuid::Uuid;

/// The tables of rows, by the prefix of their facts.
pub const TABLES: [&str; 7] =
    ["purchases", "purchase_lines", "returns", "return_lines", "cards", "children", "deliveries"];

/// Rows that belong to clients.
#[derive(Clone, Debug, Default)]
pub struct Rows {
    /// The client row each row belongs to.
    pub owner: Vec<u32>,
    /// The row's day (days since 1970-01-01): when it was bought, returned, issued, sent.
    pub day: Vec<i64>,
    /// Rows that count (a card deleted, a line of an erased client do not).
    pub live: Bits,
    pub columns: HashMap<&'static str, Column>,
    /// A row by its key (a purchase id, a card id), to change it later.
    keys: HashMap<String, u32>,
    /// The rows in day order, for windows, with their owners and amounts beside them.
    by_day: DayOrder,
    /// Each owner's rows.
    by_owner: Vec<Vec<u32>>,
    /// The rows holding each text of an indexed column (SKUs, product names, categories).
    postings: HashMap<&'static str, HashMap<u32, Vec<u32>>>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.owner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owner.is_empty()
    }

    /// The row of `key`, added for `owner` on `day` when new.
    pub fn row(&mut self, key: &str, owner: u32, day: i64) -> usize {
        if let Some(&r) = self.keys.get(key) {
            return r as usize;
        }
        let r = self.add(owner, day);
        self.keys.insert(key.to_string(), r as u32);
        r
    }

    /// The row of `key`, if there is one.
    pub fn find(&self, key: &str) -> Option<usize> {
        self.keys.get(key).map(|r| *r as usize)
    }

    /// A row without a key (a purchase line).
    pub fn add(&mut self, owner: u32, day: i64) -> usize {
        let r = self.owner.len();
        self.owner.push(owner);
        self.day.push(day);
        self.live.set(r, true);
        self.by_day.add(r as u32, day, &self.day);
        self.owned(owner).push(r as u32);
        r
    }

    fn owned(&mut self, owner: u32) -> &mut Vec<u32> {
        let i = owner as usize;
        if self.by_owner.len() <= i {
            self.by_owner.resize(i + 1, Vec::new());
        }
        &mut self.by_owner[i]
    }

    /// Gives row `r` to `owner` (a card moved to another client).
    pub fn set_owner(&mut self, r: usize, owner: u32) {
        let before = self.owner[r];
        if before == owner {
            return;
        }
        self.owned(before).retain(|x| *x as usize != r);
        self.owned(owner).push(r as u32);
        self.owner[r] = owner;
        self.by_day.moved(r, owner);
    }

    /// Puts the rows that came out of day order into the day order (see [`DayOrder::settle`]):
    /// call it after applying a batch of events, before reading a window.
    pub fn settle(&mut self) {
        let amounts = self.columns.get("amount").map(Column::numbers);
        self.by_day.settle(&self.day, &self.owner, amounts);
    }

    /// The rows whose day lies in `from..=to`, in day order (after [`Rows::settle`]).
    pub fn window(&self, from: i64, to: i64) -> &[u32] {
        self.by_day.rows(self.by_day.span(from, to, &self.day))
    }

    /// The rows whose day lies in `from..=to`, in day order, each with its owner and amount (0 when
    /// it has none), read from one stretch of memory for a table with amounts.
    pub fn each_in_window(&self, from: i64, to: i64, f: impl FnMut(Placed)) {
        let amounts = self.columns.get("amount").map(Column::numbers).unwrap_or(&[]);
        self.by_day.each(self.by_day.span(from, to, &self.day), &self.owner, amounts, f);
    }

    /// Sets row `r`'s amount: the column and the copy beside the day order.
    pub fn put_amount(&mut self, r: usize, amount: i64) {
        self.column("amount", Column::number).put_number(r, Some(amount));
        self.by_day.amount_changed(r, amount);
    }

    /// The rows of `owner`.
    pub fn rows_of(&self, owner: u32) -> &[u32] {
        self.by_owner.get(owner as usize).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Sets an indexed text (SKU, name, category): the rows holding a text are found without a scan.
    pub fn put_indexed(&mut self, name: &'static str, r: usize, text: &str) {
        let column = self.columns.entry(name).or_insert_with(Column::text);
        column.put_text(r, text);
        if let Column::Text { codes, .. } = column {
            let code = codes[r];
            if code != 0 {
                self.postings.entry(name).or_default().entry(code).or_default().push(r as u32);
            }
        }
    }

    /// The rows holding the text `code` of an indexed column; `None` when it is not indexed.
    pub fn posting(&self, name: &str, code: u32) -> Option<&[u32]> {
        self.postings.get(name).map(|p| p.get(&code).map(Vec::as_slice).unwrap_or(&[]))
    }

    /// The column `name`, made with `make` on first use.
    pub fn column(&mut self, name: &'static str, make: fn() -> Column) -> &mut Column {
        self.columns.entry(name).or_insert_with(make)
    }

    /// Moves every row of `from` to `to` (a client merge).
    pub fn reown(&mut self, from: u32, to: u32) {
        let moving = std::mem::take(self.owned(from));
        for r in &moving {
            self.owner[*r as usize] = to;
            self.by_day.moved(*r as usize, to);
        }
        self.owned(to).extend(moving);
    }
}

/// One tenant's clients and their rows.
#[derive(Clone, Debug, Default)]
pub struct Population {
    ids: Vec<Uuid>,
    index: HashMap<Uuid, u32>,
    /// Clients that count: not deleted, erased or merged into another.
    pub live: Bits,
    /// Merged clients and the survivor they became.
    merged_into: HashMap<Uuid, Uuid>,
    /// Clients deleted or erased: an event about them that arrives late does not bring them back.
    gone: std::collections::HashSet<Uuid>,
    /// Client facts by name.
    pub clients: HashMap<&'static str, Column>,
    /// Row tables by name ([`TABLES`]).
    pub tables: HashMap<&'static str, Rows>,
    /// The points earned, used and expired each UTC month (by the month's first day), for the
    /// points behaviour report.
    pub points_months: std::collections::BTreeMap<i64, PointsMonth>,
    /// Tag names by tag id (clients carry ids).
    pub tag_names: HashMap<String, String>,
}

/// What the tenant's clients did with points in one month.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PointsMonth {
    pub earned: i64,
    pub used: i64,
    pub expired: i64,
    /// The clients who earned points that month, and who used points.
    pub earners: Bits,
    pub users: Bits,
}

impl Population {
    /// How many client rows there are (live or not).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The row of `client`, added (live) when new.
    pub fn row(&mut self, client: Uuid) -> u32 {
        if let Some(&r) = self.index.get(&client) {
            return r;
        }
        let r = self.ids.len() as u32;
        self.ids.push(client);
        self.index.insert(client, r);
        let counts = !self.gone.contains(&client) && !self.merged_into.contains_key(&client);
        self.live.set(r as usize, counts);
        r
    }

    /// The row that owns what `client` bought, returned or holds: the survivor's when `client`
    /// was merged (feeds are not ordered with each other: a purchase may arrive after the merge).
    pub fn owner_row(&mut self, client: Uuid) -> u32 {
        let id = self.merged_into.get(&client).copied().unwrap_or(client);
        self.row(id)
    }

    /// The row of `client` (or of the survivor it was merged into), if known.
    pub fn find(&self, client: Uuid) -> Option<u32> {
        let id = self.merged_into.get(&client).copied().unwrap_or(client);
        self.index.get(&id).copied()
    }

    /// The client's own row, even when it was merged into another.
    pub fn own_row(&self, client: Uuid) -> Option<u32> {
        self.index.get(&client).copied()
    }

    pub fn id(&self, row: u32) -> Uuid {
        self.ids.get(row as usize).copied().unwrap_or_default()
    }

    /// The client fact `name`, made with `make` on first use.
    pub fn column(&mut self, name: &'static str, make: fn() -> Column) -> &mut Column {
        self.clients.entry(name).or_insert_with(make)
    }

    /// The table `name`.
    pub fn table(&mut self, name: &'static str) -> &mut Rows {
        self.tables.entry(name).or_default()
    }

    /// `merged` became `survivor`: its rows move, its facts fill the survivor's gaps, it stops
    /// counting.
    pub fn merge(&mut self, survivor: Uuid, merged: Uuid) {
        let to = self.row(survivor);
        let Some(from) = self.index.get(&merged).copied() else {
            self.merged_into.insert(merged, survivor);
            return;
        };
        for column in self.clients.values_mut() {
            column.fill(to as usize, from as usize);
        }
        for table in self.tables.values_mut() {
            table.reown(from, to);
        }
        self.refresh_card_numbers(to);
        self.refresh_card_numbers(from);
        self.live.set(from as usize, false);
        self.merged_into.insert(merged, survivor);
        for target in self.merged_into.values_mut().filter(|t| **t == merged) {
            *target = survivor;
        }
    }

    /// The client's `client.card_numbers`: the numbers of their active and blocked cards, a
    /// column a table of clients (an export) shows beside the profile.
    pub fn refresh_card_numbers(&mut self, owner: u32) {
        let mut numbers = Vec::new();
        if let Some(cards) = self.tables.get("cards")
            && let (Some(number), Some(status)) = (cards.columns.get("cards.number"), cards.columns.get("cards.status"))
        {
            for &r in cards.rows_of(owner) {
                let r = r as usize;
                let held = cards.live.get(r) && matches!(status.text_at(r), "active" | "blocked");
                if held && !number.text_at(r).is_empty() {
                    numbers.push(number.text_at(r).to_string());
                }
            }
        }
        numbers.sort();
        let known = self.clients.contains_key("client.card_numbers");
        if known || !numbers.is_empty() {
            self.column("client.card_numbers", Column::set).put_set(owner as usize, &numbers);
        }
    }

    /// Settles every table (see [`Rows::settle`]): call it after applying a batch of events.
    pub fn settle(&mut self) {
        for table in self.tables.values_mut() {
            table.settle();
        }
    }

    /// The client is gone (deleted or erased): nothing of them counts or is kept.
    pub fn forget(&mut self, client: Uuid) {
        self.gone.insert(client);
        let Some(row) = self.index.get(&client).copied() else { return };
        self.live.set(row as usize, false);
        for column in self.clients.values_mut() {
            column.clear(row as usize);
        }
        for table in self.tables.values_mut() {
            for r in table.rows_of(row).to_vec() {
                table.live.set(r as usize, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(p: &mut Population, owner: u32, number: &str, status: &str) {
        let cards = p.table("cards");
        let r = cards.row(number, owner, 100);
        cards.set_owner(r, owner);
        cards.column("cards.number", Column::text).put_text(r, number);
        cards.column("cards.status", Column::text).put_text(r, status);
        p.refresh_card_numbers(owner);
    }

    #[test]
    fn a_client_shows_the_numbers_of_the_cards_they_hold_and_a_merge_brings_the_others() {
        let mut p = Population::default();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let (ra, rb) = (p.row(a), p.row(b));
        card(&mut p, ra, "2000000000017", "active");
        card(&mut p, ra, "2000000000024", "replaced");
        card(&mut p, rb, "2000000000031", "blocked");
        let shown = |p: &Population, row: u32| match &p.clients["client.card_numbers"] {
            Column::Set { dict, members, .. } => {
                let mut v: Vec<String> = members[row as usize].iter().map(|c| dict.text(*c).to_string()).collect();
                v.sort();
                v
            }
            _ => Vec::new(),
        };
        assert_eq!(shown(&p, ra), ["2000000000017"], "a replaced card is not held any more");
        assert_eq!(shown(&p, rb), ["2000000000031"], "a blocked card is still the client's");
        p.merge(a, b);
        assert_eq!(shown(&p, ra), ["2000000000017", "2000000000031"]);
        assert!(shown(&p, rb).is_empty());
        card(&mut p, ra, "2000000000017", "deleted");
        assert_eq!(shown(&p, ra), ["2000000000031"]);
    }

    #[test]
    fn a_merge_moves_rows_and_fills_gaps_and_a_forgotten_client_counts_no_more() {
        let mut p = Population::default();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let (ra, rb) = (p.row(a), p.row(b));
        p.column("client.city", Column::text).put_text(rb as usize, "kaunas");
        let purchases = p.table("purchases");
        purchases.row("p-1", rb, 100);
        p.merge(a, b);
        assert_eq!(p.clients["client.city"].text_at(ra as usize), "kaunas");
        assert_eq!(p.tables["purchases"].owner, [ra]);
        assert_eq!(p.find(b), Some(ra), "the merged id finds the survivor");
        assert!(!p.live.get(rb as usize));
        p.forget(a);
        assert!(!p.live.get(ra as usize) && !p.tables["purchases"].live.get(0));
        let late = Uuid::from_u128(3);
        p.forget(late);
        let row = p.row(late);
        assert!(!p.live.get(row as usize), "a late event does not bring a forgotten client back");
        assert_eq!(p.clients["client.city"].text_at(ra as usize), "", "nothing of them is kept");
    }

    #[test]
    fn what_a_merged_client_bought_after_the_merge_arrived_goes_to_the_survivor() {
        let mut p = Population::default();
        let (survivor, merged) = (Uuid::from_u128(1), Uuid::from_u128(2));
        // The client feed told of the merge before the ledger feed told of the purchase.
        p.merge(survivor, merged);
        let owner = p.owner_row(merged);
        assert_eq!(owner, p.row(survivor));
        let late = p.row(merged);
        assert!(!p.live.get(late as usize), "a late profile of the merged client is not a client of its own");
        assert!(p.live.get(owner as usize));
    }

    #[test]
    fn rows_out_of_day_order_are_in_the_windows_once_settled() {
        let mut rows = Rows::default();
        for (owner, day) in [(0, 10), (1, 12), (2, 5), (3, 12), (4, 11), (5, 13)] {
            rows.add(owner, day);
        }
        rows.settle();
        let days: Vec<i64> = rows.window(0, 100).iter().map(|r| rows.day[*r as usize]).collect();
        assert_eq!(days, [5, 10, 11, 12, 12, 13]);
        assert_eq!(rows.window(11, 12), [4, 1, 3]);
    }
}
