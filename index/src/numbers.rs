//! How the index holds structured numbers: those with few digits exactly, every other number
//! as the bucket it falls in. Pure.
//!
//! Numbers such as byte counts, durations and amounts take thousands of distinct values, each
//! in few records: as terms they were most of the `fields` terms and a fifth of its postings.
//! A bucket keeps a number's leading decimal digits, so its terms are few and repeat. A number
//! keeps two significant digits from 1000 on in magnitude, and its digits down to the unit, or
//! two significant ones when smaller, below 1000:
//!
//! - a number with no more digits than that is its own term, and a query for it is exact:
//!   every integer below 1000 (a status code, a count), `3000`, `2500`, `8.5`, `0.35`;
//! - any other number is in the bucket between the two such numbers around it, and its term
//!   is the bucket's middle: `3026` and `3099.5` are in (3000, 3100), term `3050`; `80.55` in
//!   (80, 81), term `80.5`; `0.356` in (0.35, 0.36), term `0.355`. A middle has one digit
//!   more than the numbers kept exact, so it is never one of their terms.
//!
//! Buckets are cut in decimal, on the number's shortest decimal form, so the bounds people
//! write (`duration_ms:>5000`, `bytes:<=2500`) are exact terms, and a bucket is the same when
//! indexing and when querying. Terms sort as their numbers do: a range holds every term
//! strictly between those of its bounds exactly, and only a bound inside a bucket
//! (`duration_ms:>1234`) leaves that bucket's records to be checked.
//!
//! ```
//! use firewatch_index::numbers::{indexed, Indexed};
//! use tantivy::columnar::NumericalValue::{F64, I64};
//!
//! assert_eq!(indexed(I64(503)), Indexed::Exact(I64(503)));
//! assert_eq!(indexed(I64(2500)), Indexed::Exact(I64(2500)));
//! assert_eq!(indexed(I64(3026)), Indexed::Bucket(I64(3050)));
//! assert_eq!(indexed(F64(0.356)), Indexed::Bucket(F64(0.355)));
//! ```

use std::io::Write;

use tantivy::columnar::NumericalValue;

/// What a number is indexed as.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Indexed {
    /// The number itself: its term is in exactly the records that hold it.
    Exact(NumericalValue),
    /// The term of its bucket, shared with the other numbers of the bucket.
    Bucket(NumericalValue),
}

impl Indexed {
    /// The term's value, normalized as tantivy normalizes JSON numbers.
    pub fn term(self) -> NumericalValue {
        match self {
            Indexed::Exact(v) | Indexed::Bucket(v) => v,
        }
    }
}

/// What `value` (any numerical value) is indexed as.
pub fn indexed(value: NumericalValue) -> Indexed {
    let value = value.normalize();
    match value {
        NumericalValue::I64(i) => match middle(i.unsigned_abs()) {
            Some(m) if i < 0 => Indexed::Bucket(integer(-m)),
            Some(m) => Indexed::Bucket(integer(m)),
            None => Indexed::Exact(value),
        },
        NumericalValue::U64(u) => match middle(u) {
            Some(m) => Indexed::Bucket(integer(m)),
            None => Indexed::Exact(value),
        },
        NumericalValue::F64(x) if !x.is_finite() => Indexed::Exact(value),
        NumericalValue::F64(x) => match float_middle(x) {
            Some(m) => Indexed::Bucket(m),
            None => Indexed::Exact(value),
        },
    }
}

/// The middle of an integer's bucket (toward zero), or `None` when it is kept exact: below
/// 1000, or with two significant digits. (Wider than `u64`: the middle of the bucket of
/// `u64::MAX` is above it.)
fn middle(u: u64) -> Option<i128> {
    if u < 1000 {
        return None;
    }
    let mut step = 1;
    while u / step >= 100 {
        step *= 10;
    }
    (u % step != 0).then(|| i128::from(u / step * step) + i128::from(step / 2))
}

/// An integer as tantivy holds it: an i64 when it fits, a u64, else an f64.
fn integer(i: i128) -> NumericalValue {
    if let Ok(i) = i64::try_from(i) {
        NumericalValue::I64(i)
    } else if let Ok(u) = u64::try_from(i) {
        NumericalValue::U64(u)
    } else {
        NumericalValue::F64(i as f64)
    }
}

/// The middle of a float's bucket as its term, or `None` when it is kept exact; cut on its
/// shortest decimal form (`{:e}`: a sign, at most 17 digits, a point, `e-324`).
fn float_middle(x: f64) -> Option<NumericalValue> {
    let mut text = [0u8; 40];
    let mut at = &mut text[..];
    write!(at, "{x:e}").ok()?;
    let len = 40 - at.len();
    let text = &text[..len];
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let e = text.iter().position(|b| *b == b'e')?;
    let exp: i32 = std::str::from_utf8(&text[e + 1..]).ok()?.parse().ok()?;
    let mut digits = text[..e].iter().filter(|b| b.is_ascii_digit());
    // Two leading digits from 1000 on and below 1, down to the unit in between.
    let keep = match exp {
        1..=2 => exp as usize + 1,
        _ => 2,
    };
    if digits.clone().count() <= keep {
        return None;
    }
    let mut kept = [b'0'; 4];
    for (slot, d) in kept.iter_mut().zip(digits.by_ref().take(keep)) {
        *slot = *d;
    }
    let mut out = [0u8; 24];
    let mut at = &mut out[..];
    let sign = if negative { "-" } else { "" };
    let rest = std::str::from_utf8(&kept[1..keep]).ok()?;
    write!(at, "{sign}{}.{rest}5e{exp}", kept[0] as char).ok()?;
    let len = 24 - at.len();
    let term: f64 = std::str::from_utf8(&out[..len]).ok()?.parse().ok()?;
    Some(NumericalValue::F64(term).normalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use NumericalValue::{F64, I64, U64};

    fn term(v: NumericalValue) -> NumericalValue {
        indexed(v).term()
    }

    #[test]
    fn few_digits_are_exact_and_others_are_buckets() {
        for v in [
            I64(0),
            I64(-999),
            I64(503),
            I64(1000),
            I64(2500),
            I64(-3100),
            I64(180_000),
        ] {
            assert_eq!(indexed(v), Indexed::Exact(v), "{v:?}");
        }
        assert_eq!(indexed(F64(404.0)), Indexed::Exact(I64(404)));
        for v in [F64(8.5), F64(0.35), F64(-1.5), F64(1e30)] {
            assert_eq!(indexed(v), Indexed::Exact(v), "{v:?}");
        }
        assert_eq!(indexed(I64(1099)), Indexed::Bucket(I64(1050)));
        assert_eq!(term(I64(184_312)), I64(185_000));
        assert_eq!(term(I64(-3026)), I64(-3050));
        assert_eq!(term(F64(3099.5)), I64(3050));
        assert_eq!(term(U64(u64::MAX)), F64(1.85e19));
        assert_eq!(term(I64(i64::MIN)), F64(-9.25e18));
        assert_eq!(term(I64(i64::MAX)), U64(9_250_000_000_000_000_000));
        assert_eq!(term(F64(80.55)), F64(80.5));
        assert_eq!(term(F64(356.78)), F64(356.5));
        assert_eq!(term(F64(0.356)), F64(0.355));
        assert_eq!(term(F64(-0.0356)), F64(-0.0355));
        assert_eq!(term(F64(1.234e-300)), F64(1.25e-300));
    }

    #[test]
    fn extreme_numbers_have_finite_terms() {
        for x in [
            f64::MAX,
            f64::MIN,
            5e-324,
            -5e-324,
            f64::MIN_POSITIVE,
            1e300,
            -0.0,
        ] {
            let t = match term(F64(x)) {
                I64(i) => i as f64,
                U64(u) => u as f64,
                F64(t) => t,
            };
            assert!(t.is_finite(), "{x}: {t}");
            assert!(x == 0.0 || t.signum() == x.signum(), "{x}: {t}");
        }
        assert_eq!(term(I64(i64::MIN + 1)), F64(-9.25e18));
    }

    #[test]
    fn terms_sort_as_their_numbers() {
        let mut values: Vec<f64> = vec![
            -1e20, -123_456.0, -3026.0, -3000.0, -999.0, -80.55, -1.5, -0.001, 0.0, 0.001, 0.0999,
            0.1, 0.356, 1.0, 9.99, 10.0, 80.0, 80.5, 80.55, 81.0, 99.99, 100.5, 999.0, 999.9,
            1000.0, 1099.0, 1100.0, 9999.0, 10_000.0, 184_312.0, 1e18, 9.3e18, 1e19, 1e25,
        ];
        values.sort_by(f64::total_cmp);
        let as_f64 = |v: NumericalValue| match v {
            I64(i) => i as f64,
            U64(u) => u as f64,
            F64(x) => x,
        };
        let terms: Vec<f64> = values.iter().map(|x| as_f64(term(F64(*x)))).collect();
        assert!(terms.windows(2).all(|w| w[0] <= w[1]), "{terms:?}");
    }

    #[test]
    fn integers_and_floats_share_buckets() {
        for i in (1001..200_000)
            .step_by(37)
            .filter(|i| indexed(I64(*i)) != Indexed::Exact(I64(*i)))
        {
            assert_eq!(term(I64(i)), term(F64(i as f64 + 0.25)), "{i}");
            assert_eq!(term(I64(-i)), term(F64(-(i as f64) - 0.25)), "{i}");
        }
    }

    #[test]
    fn a_bucket_term_is_never_an_exact_number() {
        for x in [
            0.356,
            1.25,
            80.55,
            999.9,
            -3.55,
            -999.1,
            3026.0,
            1e19 + 4096.0,
        ] {
            let Indexed::Bucket(t) = indexed(F64(x)) else {
                panic!("{x} is a bucket");
            };
            assert!(matches!(indexed(t), Indexed::Bucket(_)), "{x}: {t:?}");
        }
    }
}
