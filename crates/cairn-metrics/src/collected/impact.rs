//! Each counted commit's impact, scored when its repository's commits change and kept with
//! the commit (`metrics_commits.impact`) and in its author's daily rollup, so readers sum
//! impact as they sum commits.
//!
//! Impact is Cairn's documented variant of a proprietary figure: a commit's size is
//! `s = (min(additions, 1000) + min(deletions, 1000)) · (1 + ln(max(changed files, 1)))`,
//! and its impact is the share of the counted commits of its repository (in the same
//! source) authored in the 90 days up to it (itself included) whose size is at most `s`: a
//! number in (0, 1]. Bots' commits are neither scored nor compared with.
//!
//! A commit's impact depends on the commits of the 90 days before it, so a change to the
//! commits authored in `[lo, hi]` rescores those authored in `[lo, hi + 90 days)`, reading
//! from `lo - 90 days`. Impacts are stored as integers in units of 10⁻¹² ([`SCALE`]), so the
//! rollups add and take them off exactly.

/// Lines of one side of a commit that count towards its size.
pub const LINE_CAP: i64 = 1000;
/// How far back a commit's repository is compared with it.
pub const IMPACT_DAYS: i64 = 90;
/// How far back, in milliseconds.
pub const IMPACT_MS: i64 = IMPACT_DAYS * 86_400_000;
/// Stored impact units per 1.0 of impact.
pub const SCALE: i64 = 1_000_000_000_000;

/// A commit's size.
pub fn size(additions: i64, deletions: i64, changed_files: i64) -> f64 {
    let lines = (additions.min(LINE_CAP) + deletions.min(LINE_CAP)) as f64;
    lines * (1.0 + (changed_files.max(1) as f64).ln())
}

/// An impact in stored units as a number.
pub fn value(units: i64) -> f64 {
    units as f64 / SCALE as f64
}

/// The impact, in stored units, of each of `commits` (authored time and size, sorted by
/// time) authored at or after `from`; `None` for those before it, which only count as the
/// earlier commits of the later ones. The caller passes every commit of the repository
/// authored in the 90 days before `from` and after.
pub fn score(commits: &[(i64, f64)], from: i64) -> Vec<Option<i64>> {
    let mut start = 0;
    let mut out = Vec::with_capacity(commits.len());
    for (i, &(at, size)) in commits.iter().enumerate() {
        if at < from {
            out.push(None);
            continue;
        }
        while commits[start].0 <= at - IMPACT_MS {
            start += 1;
        }
        // Up to it: every commit authored no later (ties in time included).
        let end = i + commits[i..].iter().take_while(|(t, _)| *t == at).count();
        let trailing = &commits[start..end];
        let at_most = trailing.iter().filter(|(_, s)| *s <= size).count() as i128;
        let units = (at_most * SCALE as i128 + trailing.len() as i128 / 2) / trailing.len() as i128;
        out.push(Some(units as i64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn a_commit_is_ranked_among_its_trailing_ninety_days() {
        // Sizes 8, 12, 10, 1 a day apart: 1/1, 2/2, 2/3, 1/4.
        let commits = [(0, 8.0), (DAY, 12.0), (2 * DAY, 10.0), (3 * DAY, 1.0)];
        let third = (2 * SCALE + 1) / 3;
        assert_eq!(score(&commits, 0), [Some(SCALE), Some(SCALE), Some(third), Some(SCALE / 4)]);
        // Only the later ones are scored; the earlier ones still count for them.
        assert_eq!(score(&commits, 2 * DAY), [None, None, Some(third), Some(SCALE / 4)]);
        // Ninety days on, the first commit is out of the window.
        let commits = [(0, 1.0), (IMPACT_MS, 1.0)];
        assert_eq!(score(&commits, 0), [Some(SCALE), Some(SCALE)]);
        // Commits at the same time are each other's earlier commits.
        let commits = [(0, 2.0), (DAY, 3.0), (DAY, 1.0)];
        assert_eq!(score(&commits, 0), [Some(SCALE), Some(SCALE), Some(SCALE / 3)]);
    }

    #[test]
    fn size_caps_lines_and_grows_with_files() {
        assert_eq!(size(5000, 3, 1), 1003.0);
        assert_eq!(size(10, 0, 0), 10.0);
        assert!((size(10, 0, 3) - 10.0 * (1.0 + 3f64.ln())).abs() < 1e-12);
    }
}
