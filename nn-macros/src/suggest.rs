//! "Did you mean": the closest accepted name by edit distance.

/// Edit distance counting insertions, deletions, substitutions and swaps of
/// two neighbours (optimal string alignment), over chars: `desne` is one edit
/// from `dense`, as a typist would count it.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // d[i][j]: distance between the first i chars of a and the first j of b.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate closest to `name`, if it is close enough to be a likely typo:
/// within a third of the name's length (at least 1, so `rlu` finds `relu`).
/// Ties go to the earlier candidate.
pub fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `"; did you mean `x`?"` or, without a close candidate, the full list.
pub fn hint(name: &str, candidates: &[&str]) -> String {
    match closest(name, candidates) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => format!("; expected one of: {}", candidates.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("relu", "relu"), 0);
        assert_eq!(edit_distance("rlu", "relu"), 1);
        assert_eq!(edit_distance("desne", "dense"), 1);
        assert_eq!(edit_distance("rleu", "relu"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
    }

    #[test]
    fn closest_finds_typos_of_layer_names() {
        let layers = items::names();
        assert_eq!(closest("desne", &layers), Some("dense"));
        assert_eq!(closest("rleu", &layers), Some("relu"));
        assert_eq!(closest("batchnorm", &layers), Some("batch_norm"));
        assert_eq!(closest("leakyrelu", &layers), Some("leaky_relu"));
        assert_eq!(closest("he_norml", &items::initializer_names()), Some("he_normal"));
    }

    #[test]
    fn closest_refuses_unrelated_names() {
        assert_eq!(closest("attention", &items::names()), None);
        assert_eq!(closest("x", &["relu", "tanh"]), None);
    }

    #[test]
    fn hint_lists_candidates_when_nothing_is_close() {
        assert_eq!(hint("rleu", &["relu", "tanh"]), "; did you mean `relu`?");
        assert_eq!(hint("zzzz", &["relu", "tanh"]), "; expected one of: relu, tanh");
    }
}
