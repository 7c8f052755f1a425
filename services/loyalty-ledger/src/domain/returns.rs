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
    TooMany { line_no: i32, left_milli: i64 },
    NothingLeft,
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
    let mut amount = 0i64;
    let mut updated = Vec::new();
    for (line_no, qty) in &wanted {
        let line = lines.iter().find(|l| l.line_no == *line_no).ok_or(ReturnError::UnknownLine(*line_no))?;
        let left = line.quantity_milli - line.returned_quantity_milli;
        if *qty <= 0 || *qty > left {
            return Err(ReturnError::TooMany { line_no: *line_no, left_milli: left });
        }
        let already_amount =
            i128::from(line.amount_minor) * i128::from(line.returned_quantity_milli) / i128::from(line.quantity_milli);
        let after_amount = i128::from(line.amount_minor) * i128::from(line.returned_quantity_milli + qty)
            / i128::from(line.quantity_milli);
        amount += i64::try_from(after_amount - already_amount).unwrap_or(0);
        updated.push((*line_no, line.returned_quantity_milli + qty));
    }
    if amount <= 0 && updated.is_empty() {
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
