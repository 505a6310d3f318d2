//! Structured values and ranges as the bytes of tantivy `fields` terms. Pure.
//!
//! Ranges run on the inverted index: tantivy stores JSON numbers in a canonical typed form
//! (integral values as i64, larger as u64, the rest as f64) whose byte encoding sorts like the
//! numbers, so a numeric range is a union of three term ranges. Strings compare bytewise.

use std::ops::Bound as B;

use tantivy::Term;

use firewatch_index::numbers::{self, Indexed};
use tantivy::columnar::NumericalValue;

use super::translate::{prefix_end, ByteRange};
use crate::lang::{Bound, RangeBounds, Scalar};

/// A number's term: its own, or its bucket's (see `firewatch_index::numbers`), shared with
/// other numbers, whose records are to be checked.
#[derive(Clone)]
pub(super) enum NumberTerm {
    Exact(Term),
    Bucket(Term),
}

/// The term of `v` when it reads as a number, in tantivy's canonical form; its bucket's in
/// an index with `buckets`.
pub(super) fn number_term(t: Term, v: &str, buckets: bool) -> Option<NumberTerm> {
    let value = if let Ok(i) = v.parse::<i64>() {
        NumericalValue::I64(i)
    } else if let Ok(u) = v.parse::<u64>() {
        NumericalValue::U64(u)
    } else {
        NumericalValue::F64(v.parse::<f64>().ok().filter(|x| x.is_finite())?)
    };
    Some(match buckets.then(|| numbers::indexed(value)) {
        Some(Indexed::Bucket(b)) => NumberTerm::Bucket(with_number(t, b)),
        _ => NumberTerm::Exact(with_number(t, value.normalize())),
    })
}

/// `t` followed by a number.
fn with_number(mut t: Term, value: NumericalValue) -> Term {
    match value {
        NumericalValue::I64(i) => t.append_type_and_fast_value(i),
        NumericalValue::U64(u) => t.append_type_and_fast_value(u),
        NumericalValue::F64(x) => t.append_type_and_fast_value(x),
    }
    t
}

/// The term bytes of the values at a path within bounds, and in an index with `buckets`, the
/// terms of the buckets at the bounds, which hold numbers on both sides of one: their
/// records are to be checked.
pub(super) fn structured_range(
    r: &RangeBounds,
    json: impl Fn() -> Term,
    buckets: bool,
) -> (Vec<ByteRange>, Vec<Term>) {
    let kind = |b: &Bound| match b {
        Bound::Unbounded => 0,
        Bound::Included(Scalar::Number(_)) | Bound::Excluded(Scalar::Number(_)) => 1,
        Bound::Included(Scalar::Text(_)) | Bound::Excluded(Scalar::Text(_)) => 2,
        _ => 3,
    };
    let mut ranges = Vec::new();
    let mut ends = Vec::new();
    let (lower, upper) = (kind(&r.lower), kind(&r.upper));
    if lower <= 1 && upper <= 1 {
        let (mut lo, mut hi) = (num(&r.lower), num(&r.upper));
        if buckets {
            let mut end = |b: NumericalValue| ends.push(with_number(json(), b));
            lo = bucket_bound(lo, &mut end);
            hi = bucket_bound(hi, &mut end);
        }
        numeric_ranges(lo, hi, &json, &mut ranges);
    }
    if matches!(lower, 0 | 2) && matches!(upper, 0 | 2) {
        ranges.push(string_range(r, &json));
    }
    (ranges, ends)
}

/// A range's bound over bucket terms: a bound inside a bucket goes to `end`, the bucket's
/// term, and the terms beyond it are wholly inside the range.
fn bucket_bound(b: B<f64>, end: &mut impl FnMut(NumericalValue)) -> B<f64> {
    let (B::Included(x) | B::Excluded(x)) = b else {
        return b;
    };
    let Indexed::Bucket(term) = numbers::indexed(NumericalValue::F64(x)) else {
        return b;
    };
    end(term);
    B::Excluded(match term {
        NumericalValue::I64(i) => i as f64,
        NumericalValue::U64(u) => u as f64,
        NumericalValue::F64(t) => t,
    })
}

/// The numbers at a path within bounds: one term range per canonical number type.
fn numeric_ranges(lo: B<f64>, hi: B<f64>, json: &impl Fn() -> Term, ranges: &mut Vec<ByteRange>) {
    let typed = |v: &dyn Fn(&mut Term)| {
        let mut t = json();
        v(&mut t);
        t.serialized_value_bytes().to_vec()
    };
    let mut push = |lo, hi| ranges.push((lo, hi));
    if let Some((a, b)) = int_bounds(lo, hi, i64::MIN as f64, i64::MAX as f64) {
        push(
            B::Included(typed(&|t| t.append_type_and_fast_value(a as i64))),
            B::Included(typed(&|t| t.append_type_and_fast_value(b as i64))),
        );
    }
    if let Some((a, b)) = int_bounds(lo, hi, 9_223_372_036_854_775_808.0, u64::MAX as f64) {
        push(
            B::Included(typed(&|t| t.append_type_and_fast_value(a as u64))),
            B::Included(typed(&|t| t.append_type_and_fast_value(b as u64))),
        );
    }
    let float = |b: B<f64>, edge: f64| {
        let b = match b {
            B::Unbounded => B::Included(edge),
            other => other,
        };
        b.map(|x| typed(&|t| t.append_type_and_fast_value(x)))
    };
    push(float(lo, f64::NEG_INFINITY), float(hi, f64::INFINITY));
}

/// The strings at a path within text bounds, compared bytewise.
fn string_range(r: &RangeBounds, json: &impl Fn() -> Term) -> ByteRange {
    let string = |s: &str| {
        let mut t = json();
        t.append_type_and_str(s);
        t.serialized_value_bytes().to_vec()
    };
    let all_start = string("");
    let bound = |b: &Bound, edge: B<Vec<u8>>| match b {
        Bound::Included(Scalar::Text(s)) => B::Included(string(s)),
        Bound::Excluded(Scalar::Text(s)) => B::Excluded(string(s)),
        _ => edge,
    };
    let end = prefix_end(&all_start).map_or(B::Unbounded, B::Excluded);
    // Not the empty string, which is also the term of every string with a digit: those are
    // the caller's to check.
    let lower = match bound(&r.lower, B::Excluded(all_start.clone())) {
        B::Included(b) if b == all_start => B::Excluded(b),
        b => b,
    };
    (lower, bound(&r.upper, end))
}

fn num(b: &Bound) -> B<f64> {
    match b {
        Bound::Included(Scalar::Number(x)) => B::Included(*x),
        Bound::Excluded(Scalar::Number(x)) => B::Excluded(*x),
        _ => B::Unbounded,
    }
}

/// The integers in `[min, max]` that satisfy both bounds, as an inclusive pair.
fn int_bounds(lo: B<f64>, hi: B<f64>, min: f64, max: f64) -> Option<(f64, f64)> {
    let a = match lo {
        B::Included(x) => x.ceil(),
        B::Excluded(x) => x.floor() + 1.0,
        B::Unbounded => min,
    }
    .max(min);
    let b = match hi {
        B::Included(x) => x.floor(),
        B::Excluded(x) => x.ceil() - 1.0,
        B::Unbounded => max,
    }
    .min(max);
    (a <= b).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_bounds_round_inwards() {
        let (min, max) = (i64::MIN as f64, i64::MAX as f64);
        assert_eq!(
            int_bounds(B::Included(1.5), B::Included(4.5), min, max),
            Some((2.0, 4.0))
        );
        assert_eq!(
            int_bounds(B::Excluded(2.0), B::Excluded(5.0), min, max),
            Some((3.0, 4.0))
        );
        assert_eq!(
            int_bounds(B::Excluded(2.5), B::Excluded(3.0), min, max),
            None
        );
        assert_eq!(
            int_bounds(B::Unbounded, B::Included(-1.0), min, max),
            Some((min, -1.0))
        );
        // Only values above i64::MAX are stored as u64.
        let u = 9_223_372_036_854_775_808.0;
        assert_eq!(
            int_bounds(B::Included(0.0), B::Included(10.0), u, u64::MAX as f64),
            None
        );
    }
}
