//! Robust statistics for the detectors: median, MAD, Mann-Kendall trend test, Theil-Sen slope,
//! and a one-sided binomial z-score. Pure functions over slices; series here are short (tens
//! to a few hundred points), so the O(n²) pairwise methods are cheap.

/// Median of `xs` (NaN-free); `None` when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Median absolute deviation from the median.
pub fn mad(xs: &[f64]) -> Option<f64> {
    let m = median(xs)?;
    let dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    median(&dev)
}

/// Mann-Kendall trend test: the normal-approximation z-score of the S statistic (with
/// continuity correction and the tie correction of the variance). Positive z = increasing.
/// Under no trend z is ~N(0,1); z > 2.33 is significant at 1 % one-sided.
pub fn mann_kendall_z(ys: &[f64]) -> f64 {
    let n = ys.len();
    if n < 3 {
        return 0.0;
    }
    let mut s: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            s += match ys[j].total_cmp(&ys[i]) {
                std::cmp::Ordering::Greater => 1,
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
            };
        }
    }
    let nf = n as f64;
    let mut sorted = ys.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && sorted[j + 1] == sorted[i] {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        if t > 1.0 {
            ties += t * (t - 1.0) * (2.0 * t + 5.0);
        }
        i = j + 1;
    }
    let var = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    if var <= 0.0 {
        return 0.0;
    }
    let s = s as f64;
    if s > 0.0 {
        (s - 1.0) / var.sqrt()
    } else if s < 0.0 {
        (s + 1.0) / var.sqrt()
    } else {
        0.0
    }
}

/// Theil-Sen slope: the median of the slopes between all pairs of points (`xs` distinct per
/// pair are required; pairs with equal x are skipped). `None` with fewer than two usable points.
pub fn theil_sen(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len().min(ys.len());
    let mut slopes = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let dx = xs[j] - xs[i];
            if dx != 0.0 {
                slopes.push((ys[j] - ys[i]) / dx);
            }
        }
    }
    median(&slopes)
}

/// `ln(k!)`: exact below 30, Stirling's series above (error < 1e-10 there).
fn ln_factorial(k: u64) -> f64 {
    if k < 30 {
        return (2..=k).map(|i| (i as f64).ln()).sum();
    }
    let k = k as f64;
    k * k.ln() - k + 0.5 * (2.0 * std::f64::consts::PI * k).ln() + 1.0 / (12.0 * k)
        - 1.0 / (360.0 * k * k * k)
}

/// P(X ≥ k) for X ~ Poisson(λ): how surprising `k` events are when `λ` are expected. Summed
/// from the tail term upwards, so tiny probabilities keep their precision.
pub fn poisson_tail(k: u64, lambda: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    let ln_l = lambda.ln();
    let mut term = (-lambda + k as f64 * ln_l - ln_factorial(k)).exp();
    let mut sum = 0.0;
    let mut i = k;
    while term > sum * 1e-12 && i < k + 100_000 {
        sum += term;
        i += 1;
        term *= lambda / i as f64;
        if term == 0.0 {
            break;
        }
    }
    sum.min(1.0)
}

/// One-sided z-score of observing `k` successes in `n` trials when the rate is `p`.
pub fn binomial_z(k: f64, n: f64, p: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (k - n * p) / (n * p * (1.0 - p)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(mad(&[1.0, 2.0, 3.0, 4.0, 100.0]), Some(1.0));
    }

    #[test]
    fn mann_kendall_sees_trends_not_noise() {
        let up: Vec<f64> = (0..20)
            .map(|i| i as f64 + if i % 2 == 0 { 3.0 } else { 0.0 })
            .collect();
        assert!(mann_kendall_z(&up) > 3.0);
        let down: Vec<f64> = up.iter().rev().copied().collect();
        assert!(mann_kendall_z(&down) < -3.0);
        let flat: Vec<f64> = (0..20).map(|i| [5.0, 7.0, 6.0, 4.0][i % 4]).collect();
        assert!(mann_kendall_z(&flat).abs() < 1.5);
        assert_eq!(mann_kendall_z(&[1.0, 1.0, 1.0, 1.0]), 0.0);
        assert_eq!(mann_kendall_z(&[1.0]), 0.0);
    }

    #[test]
    fn mann_kendall_matches_reference_value() {
        // S = 8 - 2 = 6 for this series; Var = 5*4*15/18 = 16.67; z = (6-1)/4.08 = 1.2247.
        let z = mann_kendall_z(&[1.0, 3.0, 2.0, 5.0, 4.0]);
        assert!((z - 1.2247).abs() < 1e-3, "{z}");
    }

    #[test]
    fn theil_sen_ignores_outliers() {
        let xs: Vec<f64> = (0..10).map(f64::from).collect();
        let mut ys: Vec<f64> = xs.iter().map(|x| 2.0 * x + 1.0).collect();
        ys[3] = 1000.0;
        assert_eq!(theil_sen(&xs, &ys), Some(2.0));
        assert_eq!(theil_sen(&[1.0, 1.0], &[0.0, 5.0]), None);
    }

    #[test]
    fn poisson_tail_values() {
        // P(X >= 1 | 1) = 1 - e^-1.
        assert!((poisson_tail(1, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        // P(X >= 3 | 2) = 1 - e^-2 (1 + 2 + 2) = 0.3233.
        assert!((poisson_tail(3, 2.0) - 0.323_323_583_816_936_5).abs() < 1e-9);
        assert_eq!(poisson_tail(0, 5.0), 1.0);
        assert_eq!(poisson_tail(4, 0.0), 0.0);
        let tiny = poisson_tail(60, 2.0);
        assert!(tiny > 0.0 && tiny < 1e-40, "{tiny}");
        assert!((ln_factorial(40) - (1..=40).map(|i| (i as f64).ln()).sum::<f64>()).abs() < 1e-9);
    }

    #[test]
    fn binomial_z_scores() {
        assert!(binomial_z(30.0, 100.0, 0.01) > 20.0);
        assert!(binomial_z(1.0, 100.0, 0.01).abs() < 1e-9);
        assert_eq!(binomial_z(1.0, 0.0, 0.5), 0.0);
    }
}
