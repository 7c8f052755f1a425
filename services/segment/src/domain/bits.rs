//! A set of rows as bits: what a condition selects, combined with AND, OR and NOT a word at a time
//! (a million clients are 15,625 words).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    /// `len` rows, none selected.
    pub fn none(len: usize) -> Self {
        Bits { words: vec![0; len.div_ceil(64)], len }
    }

    /// `len` rows, all selected.
    pub fn all(len: usize) -> Self {
        let mut b = Bits { words: vec![u64::MAX; len.div_ceil(64)], len };
        b.trim();
        b
    }

    /// The rows for which `pick` holds.
    pub fn from_fn(len: usize, mut pick: impl FnMut(usize) -> bool) -> Self {
        let mut b = Bits::none(len);
        for (w, word) in b.words.iter_mut().enumerate() {
            let base = w * 64;
            let mut bits = 0u64;
            for k in 0..64.min(len - base) {
                if pick(base + k) {
                    bits |= 1 << k;
                }
            }
            *word = bits;
        }
        b
    }

    /// The rows of `within` for which `pick` holds; `pick` is asked about those rows alone, so a
    /// condition after a selective one reads only what is left.
    pub fn from_fn_within(within: &Bits, mut pick: impl FnMut(usize) -> bool) -> Self {
        let mut b = Bits::none(within.len);
        for (w, (&mask, word)) in within.words.iter().zip(b.words.iter_mut()).enumerate() {
            let base = w * 64;
            let mut bits = 0u64;
            if mask == u64::MAX {
                for k in 0..64 {
                    if pick(base + k) {
                        bits |= 1 << k;
                    }
                }
            } else {
                let mut left = mask;
                while left != 0 {
                    let k = left.trailing_zeros();
                    left &= left - 1;
                    if pick(base + k as usize) {
                        bits |= 1 << k;
                    }
                }
            }
            *word = bits;
        }
        b
    }

    /// The rows of `within` that are not selected.
    pub fn not_within(&mut self, within: &Bits) {
        self.grow(within.len);
        for (a, b) in self.words.iter_mut().zip(within.words.iter().chain(std::iter::repeat(&0))) {
            *a = !*a & b;
        }
    }

    /// Whether any row is selected.
    pub fn any(&self) -> bool {
        self.words.iter().any(|w| *w != 0)
    }

    /// Whether fewer than one row in `parts` is selected (a selective condition before others).
    pub fn sparse(&self, parts: usize) -> bool {
        (self.count() as usize).saturating_mul(parts) < self.len
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Grows to `len` rows; new rows are not selected.
    pub fn grow(&mut self, len: usize) {
        if len > self.len {
            self.len = len;
            self.words.resize(len.div_ceil(64), 0);
        }
    }

    pub fn set(&mut self, row: usize, on: bool) {
        self.grow(row + 1);
        let (w, k) = (row / 64, row % 64);
        if on {
            self.words[w] |= 1 << k;
        } else {
            self.words[w] &= !(1 << k);
        }
    }

    pub fn get(&self, row: usize) -> bool {
        row < self.len && self.words[row / 64] & (1 << (row % 64)) != 0
    }

    pub fn count(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    pub fn and(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter().chain(std::iter::repeat(&0))) {
            *a &= b;
        }
    }

    pub fn or(&mut self, other: &Bits) {
        self.grow(other.len);
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// The rows not selected.
    pub fn not(&mut self) {
        for w in &mut self.words {
            *w = !*w;
        }
        self.trim();
    }

    /// The rows selected here and not in `other`, in order, a word at a time.
    pub fn rows_not_in<'a>(&'a self, other: &'a Bits) -> impl Iterator<Item = usize> + 'a {
        let words = self.words.iter().enumerate();
        words.flat_map(move |(w, &word)| word_rows(w, word & !other.words.get(w).copied().unwrap_or(0)))
    }

    /// The selected rows, in order.
    pub fn rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.rows_from(0)
    }

    /// The selected rows from row `start` on, in order, without reading the words before it.
    pub fn rows_from(&self, start: usize) -> impl Iterator<Item = usize> + '_ {
        let first = start / 64;
        let skip_in_first = start % 64;
        self.words.iter().enumerate().skip(first).flat_map(move |(w, &word)| {
            word_rows(w, if w == first { word & (u64::MAX << skip_in_first) } else { word })
        })
    }

    /// Clears the bits past `len` in the last word.
    fn trim(&mut self) {
        let extra = self.words.len() * 64 - self.len;
        if extra > 0
            && let Some(last) = self.words.last_mut()
        {
            *last &= u64::MAX >> extra;
        }
    }
}

/// The rows of word `w` whose bits are set in `bits`, in order.
fn word_rows(w: usize, mut bits: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if bits == 0 {
            return None;
        }
        let k = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        Some(w * 64 + k)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_not_in_another_set_are_those_it_alone_holds() {
        let (twos, threes) = (Bits::from_fn(200, |r| r % 2 == 0), Bits::from_fn(130, |r| r % 3 == 0));
        let expected: Vec<usize> = (0..200).filter(|r| r % 2 == 0 && !(r % 3 == 0 && *r < 130)).collect();
        assert_eq!(twos.rows_not_in(&threes).collect::<Vec<_>>(), expected);
        let left: Vec<usize> = (0..130).filter(|r| r % 3 == 0 && r % 2 != 0).collect();
        assert_eq!(threes.rows_not_in(&twos).collect::<Vec<_>>(), left);
    }

    #[test]
    fn rows_from_a_row_skip_the_words_before_it() {
        let threes = Bits::from_fn(200, |r| r % 3 == 0);
        let all: Vec<usize> = threes.rows().collect();
        for start in [0, 1, 63, 64, 65, 127, 128, 198, 199, 200, usize::MAX] {
            let from: Vec<usize> = threes.rows_from(start).collect();
            assert_eq!(from, all.iter().copied().filter(|r| *r >= start).collect::<Vec<_>>(), "from {start}");
        }
    }

    #[test]
    fn and_or_not_count_and_rows() {
        let evens = Bits::from_fn(130, |r| r % 2 == 0);
        let threes = Bits::from_fn(130, |r| r % 3 == 0);
        assert_eq!(evens.count(), 65);
        let mut both = evens.clone();
        both.and(&threes);
        assert_eq!(both.rows().collect::<Vec<_>>(), (0..130).filter(|r| r % 6 == 0).collect::<Vec<_>>());
        let mut either = evens.clone();
        either.or(&threes);
        assert_eq!(either.count(), (0..130).filter(|r| r % 2 == 0 || r % 3 == 0).count() as u64);
        let mut odd = evens;
        odd.not();
        assert_eq!(odd.count(), 65, "NOT never selects rows past the end");
        assert_eq!(Bits::all(130).count(), 130);
        let within = Bits::from_fn(130, |r| r < 70);
        let asked = std::cell::Cell::new(0);
        let picked = Bits::from_fn_within(&within, |r| {
            asked.set(asked.get() + 1);
            r % 3 == 0
        });
        assert_eq!(asked.get(), 70, "only the rows within are asked about");
        assert_eq!(picked.rows().collect::<Vec<_>>(), (0..70).filter(|r| r % 3 == 0).collect::<Vec<_>>());
        let mut rest = picked;
        rest.not_within(&within);
        assert_eq!(rest.count(), 70 - 24);
        assert!(rest.rows().all(|r| r < 70 && r % 3 != 0));
        assert!(rest.any() && !Bits::none(130).any() && !within.sparse(2) && Bits::none(130).sparse(2));
        let mut grown = Bits::none(3);
        grown.set(200, true);
        assert!(grown.get(200) && !grown.get(199) && grown.len() == 201);
    }
}
