//! What a return gives back (LE-7): the returned amount from lines and quantities, and the share of
//! earned and spent points that goes with it. The last return of a purchase settles exactly what is
//! left, so rounding never leaves a point behind.

/// A purchase line as the return sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineState {
    pub line_no: i32,
    pub quantity_milli: i64,
    pub amount_minor: i64,
    pub returned_quantity_milli: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReturnError {
    UnknownLine(i32),
    /// The same line named twice in one return.
    Duplicate(i32),
    /// A quantity of 0 or less.
    NotPositive(i32),
    TooMany {
        line_no: i32,
        left_milli: i64,
    },
    NothingLeft,
}

impl std::fmt::Display for ReturnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReturnError::UnknownLine(n) => write!(f, "line {n} is not a line of this purchase"),
            ReturnError::Duplicate(n) => write!(f, "line {n} is named more than once; give its whole quantity once"),
            ReturnError::NotPositive(n) => write!(f, "line {n}: the quantity returned must be more than 0"),
            ReturnError::TooMany { line_no, left_milli } => {
                write!(f, "line {line_no}: only {} left to return", quantity_text(*left_milli))
            }
            ReturnError::NothingLeft => write!(f, "nothing of this purchase is left to return"),
        }
    }
}

/// A quantity in thousandths for people: 1500 → "1.5", 2000 → "2".
pub fn quantity_text(milli: i64) -> String {
    let (whole, fraction) = (milli / 1000, (milli % 1000).abs());
    if fraction == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{}", format!("{fraction:03}").trim_end_matches('0'))
    }
}

/// The amount returned and each line's new returned quantity. `wanted` lists (line, quantity);
/// empty returns everything not yet returned. A purchase without lines is returned whole.
pub fn returned_amount(
    lines: &[LineState],
    wanted: &[(i32, i64)],
    (purchase_amount, already_returned): (i64, i64),
) -> Result<(i64, Vec<(i32, i64)>), ReturnError> {
    if lines.is_empty() {
        let left = purchase_amount - already_returned;
        return if left > 0 && wanted.is_empty() { Ok((left, Vec::new())) } else { Err(ReturnError::NothingLeft) };
    }
    let wanted: Vec<(i32, i64)> = if wanted.is_empty() {
        lines
            .iter()
            .map(|l| (l.line_no, l.quantity_milli - l.returned_quantity_milli))
            .filter(|(_, q)| *q > 0)
            .collect()
    } else {
        wanted.to_vec()
    };
    let mut amount = 0i128;
    let mut updated: Vec<(i32, i64)> = Vec::new();
    for (line_no, qty) in &wanted {
        if updated.iter().any(|(n, _)| n == line_no) {
            return Err(ReturnError::Duplicate(*line_no));
        }
        if *qty <= 0 {
            return Err(ReturnError::NotPositive(*line_no));
        }
        let line = lines.iter().find(|l| l.line_no == *line_no).ok_or(ReturnError::UnknownLine(*line_no))?;
        let left = line.quantity_milli - line.returned_quantity_milli;
        if *qty > left || line.quantity_milli <= 0 {
            return Err(ReturnError::TooMany { line_no: *line_no, left_milli: left.max(0) });
        }
        let already_amount =
            i128::from(line.amount_minor) * i128::from(line.returned_quantity_milli) / i128::from(line.quantity_milli);
        let after_amount = i128::from(line.amount_minor) * i128::from(line.returned_quantity_milli + qty)
            / i128::from(line.quantity_milli);
        amount += (after_amount - already_amount).max(0);
        updated.push((*line_no, line.returned_quantity_milli + qty));
    }
    // Never more than what is left of the purchase, whatever its lines say.
    let left = i128::from((purchase_amount - already_returned).max(0));
    let amount = i64::try_from(amount.min(left)).unwrap_or(0);
    if updated.is_empty() {
        return Err(ReturnError::NothingLeft);
    }
    Ok((amount, updated))
}

/// The share of `total` points that goes with `returned` of `amount`, given how much of the amount
/// and of the points earlier returns took. The return that completes the purchase takes the rest.
pub fn points_share(total: i64, already_points: i64, (amount, already_returned, returned): (i64, i64, i64)) -> i64 {
    if amount <= 0 || total <= 0 {
        return 0;
    }
    if already_returned + returned >= amount {
        return (total - already_points).max(0);
    }
    let after = i128::from(total) * i128::from(already_returned + returned) / i128::from(amount);
    (i64::try_from(after).unwrap_or(0) - already_points).clamp(0, total - already_points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Vec<LineState> {
        vec![
            LineState { line_no: 1, quantity_milli: 3_000, amount_minor: 1_000, returned_quantity_milli: 0 },
            LineState { line_no: 2, quantity_milli: 1_000, amount_minor: 500, returned_quantity_milli: 0 },
        ]
    }

    #[test]
    fn returning_all_units_one_by_one_returns_exactly_the_line_amount() {
        let mut l = lines();
        let mut total = 0;
        for _ in 0..3 {
            let (amount, updated) = returned_amount(&l, &[(1, 1_000)], (1_500, total)).expect("return");
            total += amount;
            l[0].returned_quantity_milli = updated[0].1;
        }
        assert_eq!(total, 1_000, "333 + 333 + 334: no cent lost");
        assert_eq!(
            returned_amount(&l, &[(1, 1)], (1_500, total)),
            Err(ReturnError::TooMany { line_no: 1, left_milli: 0 })
        );
        assert_eq!(returned_amount(&l, &[(9, 1)], (1_500, total)), Err(ReturnError::UnknownLine(9)));
    }

    #[test]
    fn a_line_named_twice_or_a_negative_quantity_is_refused() {
        let l = lines();
        assert_eq!(returned_amount(&l, &[(1, 3_000), (1, 3_000)], (1_500, 0)), Err(ReturnError::Duplicate(1)));
        assert_eq!(returned_amount(&l, &[(2, -1_000)], (1_500, 0)), Err(ReturnError::NotPositive(2)));
        assert_eq!(
            ReturnError::TooMany { line_no: 1, left_milli: 1_500 }.to_string(),
            "line 1: only 1.5 left to return"
        );
    }

    #[test]
    fn an_empty_list_returns_what_is_left() {
        let mut l = lines();
        l[0].returned_quantity_milli = 1_000;
        let (amount, _) = returned_amount(&l, &[], (1_500, 333)).expect("the rest");
        assert_eq!(amount, 1_167);
    }

    #[test]
    fn points_follow_the_returned_share_and_the_last_return_settles_the_rest() {
        // 100 points earned on 15.00; return 3.33, then 3.33, then the rest.
        let first = points_share(100, 0, (1_500, 0, 333));
        let second = points_share(100, first, (1_500, 333, 333));
        let last = points_share(100, first + second, (1_500, 666, 834));
        assert_eq!((first, second, last), (22, 22, 56));
        assert_eq!(first + second + last, 100);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn purchase() -> impl Strategy<Value = Vec<LineState>> {
        proptest::collection::vec((1i64..5_000, 1i64..100_000), 1..6).prop_map(|lines| {
            lines
                .into_iter()
                .enumerate()
                .map(|(i, (qty, amount))| LineState {
                    line_no: i as i32 + 1,
                    quantity_milli: qty,
                    amount_minor: amount,
                    returned_quantity_milli: 0,
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        /// Whatever returns are asked, in whatever order, with repeated and negative lines among
        /// them: the amount returned never exceeds the purchase and the points never exceed what it
        /// earned and spent.
        #[test]
        fn returns_never_give_back_more_than_was_bought(
            mut lines in purchase(),
            earned in 0i64..5_000,
            spent in 0i64..5_000,
            asks in proptest::collection::vec(proptest::collection::vec((0i32..8, -2_000i64..6_000), 0..4), 1..8),
        ) {
            let amount: i64 = lines.iter().map(|l| l.amount_minor).sum();
            let (mut returned, mut cancelled, mut refunded) = (0i64, 0i64, 0i64);
            for ask in asks {
                let Ok((part, updated)) = returned_amount(&lines, &ask, (amount, returned)) else { continue };
                let points = points_share(earned, cancelled, (amount, returned, part));
                let back = points_share(spent, refunded, (amount, returned, part));
                returned += part;
                cancelled += points;
                refunded += back;
                for (n, q) in updated {
                    if let Some(l) = lines.iter_mut().find(|l| l.line_no == n) {
                        l.returned_quantity_milli = q;
                    }
                }
                prop_assert!(returned <= amount, "returned {} of {}", returned, amount);
                prop_assert!(cancelled <= earned && refunded <= spent, "{} of {}, {} of {}", cancelled, earned, refunded, spent);
                prop_assert!(lines.iter().all(|l| l.returned_quantity_milli <= l.quantity_milli));
            }
            if lines.iter().all(|l| l.returned_quantity_milli == l.quantity_milli) {
                prop_assert_eq!(returned, amount, "a fully returned purchase returns its whole amount");
                prop_assert_eq!(cancelled, earned);
            }
        }
    }
}
