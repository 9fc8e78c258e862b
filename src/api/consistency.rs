//! Whether a read of the site can be trusted: the pages of one list join up, ids are unique, and
//! the lists agree with each other. Pure (no I/O), so every rule has unit and property tests.
//!
//! A plan made from an inconsistent read turns a missing integration into a duplicate create and
//! a doubled or stale one into a delete: `plan --prune` once deleted a declared integration
//! because a list showed its id twice. So the client checks every list it reads with a
//! [`PageJoin`] and every whole-site read with [`check_site`], and refuses
//! ([`super::ApiError::Inconsistent`]) rather than plan on an answer that does not fit together.
//!
//! The rules (docs/api.md, "Consistency of a read"):
//! - **pages join up**: each page's `start` (when sent) is the one asked for, and each page
//!   starts where the previous one ended; `size` (when sent) is the number of items; `total`
//!   (when sent) is the same on every page and equals the number of items read once the last
//!   page is in; `isLastPage` and `nextPageStart` agree (no `nextPageStart` on a last page, and
//!   when sent it is where this page ended); a page that is not the last is not empty;
//! - **ids are unique** in one list, and on paged reads ascending across the whole list (the
//!   pagination extension's order);
//! - **lists agree**: integration and repository ids are distinct (they share one id space, and
//!   a repository id that is also an integration's would make a repository disable reach the
//!   integration), and every repository with a `trackedFolderId` names a listed integration;
//! - **bounded**: a list takes at most [`MAX_PAGES`] pages, decided before anything is fetched
//!   when the site tells `total`, and while reading otherwise. Nothing the server says sizes an
//!   allocation beyond [`MAX_RESERVE_BYTES`].
//!
//! What cannot be seen: offset paging is not a snapshot. A delete of an item already read
//! together with a create while the later pages are read leaves `total` unchanged and shifts
//! one item past the reader; only the server could rule that out (a cursor or a snapshot).

use std::collections::HashSet;

use super::wire;

/// Most pages one list read takes: 10 million repositories at the page size of 1000, 5 million
/// integrations at 500. A site that needs more (or claims to) is refused, never read forever.
pub const MAX_PAGES: u64 = 10_000;

/// Most memory reserved up front for a list from the site's `total` (larger lists grow as
/// usual): the same as one list answer may take ([`super::client::LIST_BODY_LIMIT`]).
pub const MAX_RESERVE_BYTES: usize = 64 * 1024 * 1024;

/// How many items of `T` to reserve room for when the site says the list has `total`.
pub fn reserve_for<T>(total: u64) -> usize {
    let cap = MAX_RESERVE_BYTES / std::mem::size_of::<T>().max(1);
    usize::try_from(total).unwrap_or(usize::MAX).min(cap)
}

/// What does not fit together, in words that name the list and the id or page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inconsistency {
    /// The list (`integrations`, `repositories`), or `site` for a rule across lists.
    pub list: String,
    /// What is wrong, e.g. "id 7 appears twice (the second time in the page at 500)".
    pub problem: String,
    /// The list is longer than gijctl reads ([`MAX_PAGES`]), rather than self-contradictory:
    /// reading it again would not help.
    pub too_long: bool,
}

impl Inconsistency {
    fn new(list: &str, problem: impl Into<String>) -> Inconsistency {
        Inconsistency {
            list: list.to_owned(),
            problem: problem.into(),
            too_long: false,
        }
    }

    fn too_long(list: &str, problem: impl Into<String>) -> Inconsistency {
        Inconsistency {
            too_long: true,
            ..Inconsistency::new(list, problem)
        }
    }
}

/// What the reader does after a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The list is complete.
    Done,
    /// Fetch the page starting here.
    Page(u64),
}

/// Checks the pages of one list as they arrive, in order, and says where the next one starts.
#[derive(Debug)]
pub struct PageJoin {
    list: String,
    /// Items read so far (also where the next page must start).
    read: u64,
    pages: u64,
    total: Option<u64>,
    paged: bool,
    seen: HashSet<u64>,
    last_id: Option<u64>,
    done: bool,
}

impl PageJoin {
    /// A new read of `list` (the list's key, for messages).
    pub fn new(list: &str) -> PageJoin {
        PageJoin {
            list: list.to_owned(),
            read: 0,
            pages: 0,
            total: None,
            paged: false,
            seen: HashSet::new(),
            last_id: None,
            done: false,
        }
    }

    /// The site's `total`, once a page has told it.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Items accepted so far.
    pub fn read(&self) -> u64 {
        self.read
    }

    fn err(&self, problem: impl Into<String>) -> Inconsistency {
        Inconsistency::new(&self.list, problem)
    }

    /// Accepts the page asked for at `asked` whose pagination keys are `meta` and whose items
    /// have `ids` (`None` for an item without one, which the plan skips with a warning).
    pub fn accept(
        &mut self,
        asked: u64,
        meta: &wire::Page<()>,
        ids: impl IntoIterator<Item = Option<u64>>,
    ) -> Result<Next, Inconsistency> {
        if self.done {
            return Err(self.err(format!(
                "a page at {asked} was read after the last page (gijctl bug)"
            )));
        }
        let first = self.pages == 0;
        self.pages += 1;
        let paged = meta.total.is_some()
            || meta.is_last_page.is_some()
            || meta.next_page_start.is_some()
            || meta.start.is_some()
            || meta.size.is_some();
        if first {
            self.paged = paged;
        }
        let at = if self.paged {
            format!("the page at {asked}")
        } else {
            "the answer".to_owned()
        };
        if asked != self.read {
            return Err(self.err(format!(
                "{at} does not start where the previous page ended ({} items read)",
                self.read
            )));
        }
        if let Some(s) = meta.start
            && s != asked
        {
            return Err(self.err(format!(
                "{at} says it starts at {s}: the site ignored `start`, so pages would repeat"
            )));
        }
        let mut len = 0u64;
        for id in ids {
            len += 1;
            let Some(id) = id else { continue };
            if self.paged {
                // Ascending ids make a set needless (a whole-site read of 200,000 repositories
                // would hold one of several MB): a repeat is never above the id before it.
                if let Some(prev) = self.last_id
                    && id <= prev
                {
                    return Err(self.err(if id == prev {
                        format!("id {id} appears twice (the second time in {at})")
                    } else {
                        format!(
                            "id {id} in {at} comes after id {prev}: pages are not in ascending \
                             id order, so an id was read again, the list changed or the pages \
                             overlap"
                        )
                    }));
                }
            } else if !self.seen.insert(id) {
                return Err(self.err(format!("id {id} appears twice (the second time in {at})")));
            }
            self.last_id = Some(id);
        }
        if let Some(size) = meta.size
            && size != len
        {
            return Err(self.err(format!("{at} says `size` {size} but holds {len} items")));
        }
        let end = asked.saturating_add(len);
        if let Some(t) = meta.total {
            match self.total {
                Some(before) if before != t => {
                    return Err(self.err(format!(
                        "{at} says `total` {t}, an earlier page said {before}: the list changed \
                         while it was read"
                    )));
                }
                _ => self.total = Some(t),
            }
        }
        let last = match (meta.is_last_page, meta.next_page_start) {
            (Some(true), Some(n)) => {
                return Err(self.err(format!(
                    "{at} says it is the last page but gives `nextPageStart` {n}"
                )));
            }
            (Some(b), _) => b,
            (None, Some(_)) => false,
            (None, None) => match self.total {
                Some(t) => end >= t,
                None => true,
            },
        };
        if let Some(n) = meta.next_page_start
            && n != end
        {
            return Err(self.err(format!(
                "{at} holds {len} items from {asked} but says the next page starts at {n}"
            )));
        }
        self.read = end;
        if let Some(t) = self.total {
            if last && end != t {
                return Err(self.err(format!(
                    "the last page ({at}) ends at {end} items but the site said `total` {t}: {}",
                    if end < t {
                        "the pages ended early"
                    } else {
                        "more items than the total"
                    }
                )));
            }
            if !last && end >= t {
                return Err(self.err(format!(
                    "{at} ends at {end} items, the site's `total` {t}, but says more pages follow"
                )));
            }
        }
        if last {
            self.done = true;
            return Ok(Next::Done);
        }
        if len == 0 {
            return Err(self.err(format!(
                "{at} is empty but says more pages follow (`isLastPage` false)"
            )));
        }
        if self.pages >= MAX_PAGES {
            return Err(Inconsistency::too_long(
                &self.list,
                format!(
                    "the site has not said the last page after {MAX_PAGES} pages ({end} items); \
                 gijctl reads at most {MAX_PAGES} pages of one list"
                ),
            ));
        }
        Ok(Next::Page(end))
    }

    /// Refuses, before anything more is fetched, a list whose `total` needs more than
    /// [`MAX_PAGES`] pages of `step` items.
    pub fn check_size(&self, step: u64) -> Result<(), Inconsistency> {
        let (Some(t), true) = (self.total, step > 0) else {
            return Ok(());
        };
        let pages = t.div_ceil(step);
        if pages > MAX_PAGES {
            return Err(Inconsistency::too_long(
                &self.list,
                format!(
                    "the site says `total` {t} in pages of {step}: {pages} pages, more than the \
                 {MAX_PAGES} gijctl reads of one list"
                ),
            ));
        }
        Ok(())
    }
}

/// Whether some repository names (by `trackedFolderId`) an integration the list lacks: the
/// shape of a list read before a create next to a repository list read after it, which reading
/// the integration list again resolves (and [`check_site`] refuses otherwise).
pub fn names_unlisted_integration(
    integrations: &[wire::Integration],
    repositories: &[wire::SiteRepository],
) -> bool {
    let ids: HashSet<u64> = integrations.iter().filter_map(|i| i.id).collect();
    repositories
        .iter()
        .filter_map(|r| r.tracked_folder_id)
        .any(|parent| !ids.contains(&parent))
}

/// Checks that the lists of one read agree: integration and repository ids distinct, and every
/// repository with a `trackedFolderId` pointing at a listed integration.
pub fn check_site(
    integrations: &[wire::Integration],
    repositories: &[wire::SiteRepository],
) -> Result<(), Inconsistency> {
    let ids: HashSet<u64> = integrations.iter().filter_map(|i| i.id).collect();
    for r in repositories {
        if ids.contains(&r.id) {
            return Err(Inconsistency::new(
                "site",
                format!(
                    "id {} is both an integration and a repository (they share one id space)",
                    r.id
                ),
            ));
        }
        if let Some(parent) = r.tracked_folder_id
            && !ids.contains(&parent)
        {
            return Err(Inconsistency::new(
                "site",
                format!(
                    "repository {} belongs to integration {parent}, which the integration list \
                     does not have: the site changed between the two lists, or the list is \
                     incomplete",
                    r.id
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn meta(
        start: Option<u64>,
        size: Option<u64>,
        total: Option<u64>,
        last: Option<bool>,
        next: Option<u64>,
    ) -> wire::Page<()> {
        wire::Page {
            start,
            size,
            total,
            is_last_page: last,
            next_page_start: next,
            ..wire::Page::default()
        }
    }

    /// One page as read: the start asked for, the pagination keys, the items' ids.
    type Read = (u64, wire::Page<()>, Vec<Option<u64>>);

    /// The honest pages of `ids` in pages of `step`, as the dev-server answers them.
    fn honest(ids: &[u64], step: usize) -> Vec<Read> {
        let total = ids.len() as u64;
        let mut out = Vec::new();
        let mut s = 0usize;
        loop {
            let page: Vec<Option<u64>> = ids.iter().skip(s).take(step).map(|i| Some(*i)).collect();
            let end = (s + page.len()) as u64;
            let last = end >= total;
            out.push((
                s as u64,
                meta(
                    Some(s as u64),
                    Some(page.len() as u64),
                    Some(total),
                    Some(last),
                    (!last).then_some(end),
                ),
                page,
            ));
            if last {
                return out;
            }
            s += step;
        }
    }

    fn run(pages: &[Read]) -> Result<u64, Inconsistency> {
        let mut j = PageJoin::new("integrations");
        let mut want = 0;
        for (asked, m, ids) in pages {
            if *asked != want {
                return Err(Inconsistency::new("test", "asked out of order"));
            }
            match j.accept(*asked, m, ids.iter().copied())? {
                Next::Done => return Ok(j.read()),
                Next::Page(n) => want = n,
            }
        }
        Err(Inconsistency::new("test", "no last page"))
    }

    #[test]
    fn a_whole_answer_without_keys_is_one_page_with_unique_ids() {
        let m = wire::Page::default();
        let mut j = PageJoin::new("integrations");
        assert_eq!(j.accept(0, &m, [Some(3), Some(1), None]), Ok(Next::Done));
        let mut j = PageJoin::new("integrations");
        let e = j.accept(0, &m, [Some(3), Some(1), Some(3)]).unwrap_err();
        assert!(e.problem.contains("id 3 appears twice"), "{e:?}");
    }

    #[test]
    fn hostile_pages_are_named() {
        let cases: Vec<(&str, Vec<Read>, &str)> = vec![
            (
                "isLastPage false and then nothing",
                vec![
                    (
                        0,
                        meta(Some(0), Some(2), None, Some(false), Some(2)),
                        vec![Some(1), Some(2)],
                    ),
                    (2, meta(Some(2), Some(0), None, Some(false), None), vec![]),
                ],
                "the page at 2 is empty but says more pages follow",
            ),
            (
                "total larger than what was read",
                vec![
                    (
                        0,
                        meta(Some(0), Some(2), Some(5), Some(false), Some(2)),
                        vec![Some(1), Some(2)],
                    ),
                    (
                        2,
                        meta(Some(2), Some(1), Some(5), Some(true), None),
                        vec![Some(3)],
                    ),
                ],
                "ends at 3 items but the site said `total` 5",
            ),
            (
                "start ignored",
                vec![
                    (
                        0,
                        meta(Some(0), Some(2), Some(4), Some(false), Some(2)),
                        vec![Some(1), Some(2)],
                    ),
                    (
                        2,
                        meta(Some(0), Some(2), Some(4), Some(true), None),
                        vec![Some(1), Some(2)],
                    ),
                ],
                "says it starts at 0",
            ),
            (
                "a page repeats without saying its start",
                vec![
                    (
                        0,
                        meta(None, None, Some(4), Some(false), None),
                        vec![Some(1), Some(2)],
                    ),
                    (
                        2,
                        meta(None, None, Some(4), Some(true), None),
                        vec![Some(1), Some(2)],
                    ),
                ],
                "id 1 in the page at 2 comes after id 2",
            ),
            (
                "an id twice in a row on a paged list",
                vec![(
                    0,
                    meta(Some(0), Some(2), Some(2), Some(true), None),
                    vec![Some(4), Some(4)],
                )],
                "id 4 appears twice (the second time in the page at 0)",
            ),
            (
                "ids change between pages",
                vec![
                    (
                        0,
                        meta(Some(0), Some(2), Some(4), Some(false), Some(2)),
                        vec![Some(5), Some(9)],
                    ),
                    (
                        2,
                        meta(Some(2), Some(2), Some(4), Some(true), None),
                        vec![Some(3), Some(4)],
                    ),
                ],
                "id 3 in the page at 2 comes after id 9",
            ),
            (
                "total changes",
                vec![
                    (
                        0,
                        meta(Some(0), Some(2), Some(4), Some(false), Some(2)),
                        vec![Some(1), Some(2)],
                    ),
                    (
                        2,
                        meta(Some(2), Some(1), Some(3), Some(true), None),
                        vec![Some(3)],
                    ),
                ],
                "says `total` 3, an earlier page said 4",
            ),
            (
                "size disagrees",
                vec![(
                    0,
                    meta(Some(0), Some(3), Some(2), Some(true), None),
                    vec![Some(1), Some(2)],
                )],
                "says `size` 3 but holds 2 items",
            ),
            (
                "nextPageStart skips",
                vec![(
                    0,
                    meta(Some(0), Some(2), Some(9), Some(false), Some(4)),
                    vec![Some(1), Some(2)],
                )],
                "says the next page starts at 4",
            ),
            (
                "last page with nextPageStart",
                vec![(
                    0,
                    meta(Some(0), Some(2), None, Some(true), Some(2)),
                    vec![Some(1), Some(2)],
                )],
                "says it is the last page but gives `nextPageStart` 2",
            ),
            (
                "not last although total reached",
                vec![(
                    0,
                    meta(Some(0), Some(2), Some(2), Some(false), Some(2)),
                    vec![Some(1), Some(2)],
                )],
                "says more pages follow",
            ),
        ];
        for (what, pages, expect) in cases {
            let e = run(&pages).expect_err(what);
            assert!(e.problem.contains(expect), "{what}: {e:?}");
            assert_eq!(e.list, "integrations");
        }
    }

    #[test]
    fn endless_pages_hit_the_cap_and_huge_totals_are_refused_up_front() {
        let mut j = PageJoin::new("repositories");
        let mut start = 0;
        let mut n = 0u64;
        let err = loop {
            n += 1;
            let m = meta(Some(start), Some(1), None, Some(false), Some(start + 1));
            match j.accept(start, &m, [Some(n)]) {
                Ok(Next::Page(s)) => start = s,
                Ok(Next::Done) => panic!("an endless list ended"),
                Err(e) => break e,
            }
        };
        assert_eq!(n, MAX_PAGES);
        assert!(err.problem.contains("at most 10000 pages"), "{err:?}");

        let mut j = PageJoin::new("repositories");
        let m = meta(
            Some(0),
            Some(1),
            Some(1_000_000_000_000_000),
            Some(false),
            Some(1),
        );
        assert_eq!(j.accept(0, &m, [Some(1)]), Ok(Next::Page(1)));
        let e = j.check_size(1).unwrap_err();
        assert!(e.problem.contains("`total` 1000000000000000"), "{e:?}");
        assert!(j.check_size(1_000_000_000_000).is_ok());
        assert!(
            reserve_for::<wire::Integration>(1_000_000_000_000_000)
                * std::mem::size_of::<wire::Integration>()
                <= MAX_RESERVE_BYTES
        );
    }

    #[test]
    fn site_lists_must_agree() {
        let i = |id| wire::Integration {
            id: Some(id),
            ..wire::Integration::default()
        };
        let r = |id, parent| wire::SiteRepository {
            id,
            tracked_folder_id: parent,
            ..wire::SiteRepository::default()
        };
        assert!(check_site(&[i(1), i(2)], &[r(10, Some(1)), r(11, None)]).is_ok());
        let e = check_site(&[i(1)], &[r(10, Some(2))]).unwrap_err();
        assert!(
            e.problem.contains("repository 10 belongs to integration 2"),
            "{e:?}"
        );
        let e = check_site(&[i(1)], &[r(1, Some(1))]).unwrap_err();
        assert!(e.problem.contains("id 1 is both"), "{e:?}");
    }

    proptest! {
        /// Honest pages of any list at any page size join up to the whole list.
        #[test]
        fn honest_pages_join(mut ids in proptest::collection::btree_set(0u64..10_000, 0..60), step in 1usize..12) {
            let ids: Vec<u64> = std::mem::take(&mut ids).into_iter().collect();
            let pages = honest(&ids, step);
            prop_assert_eq!(run(&pages), Ok(ids.len() as u64));
        }

        /// Any one lie in honest pages is caught: an item dropped or doubled, a page repeated,
        /// `total`, `size`, `isLastPage` or `nextPageStart` changed.
        #[test]
        fn one_lie_is_caught(
            ids in proptest::collection::btree_set(0u64..10_000, 2..60),
            step in 1usize..12,
            which in any::<prop::sample::Index>(),
            lie in 0u8..7,
        ) {
            let ids: Vec<u64> = ids.into_iter().collect();
            let mut pages = honest(&ids, step);
            let k = which.index(pages.len());
            let (asked, m, items) = &mut pages[k];
            match lie {
                0 => { items.pop(); m.size = m.size.map(|s| s.saturating_sub(1)); }
                1 => { if let Some(x) = items.first().copied() { items.push(x); } else { items.push(Some(ids[0])); } m.size = m.size.map(|s| s + 1); }
                2 => m.total = m.total.map(|t| t + 1),
                3 => m.size = m.size.map(|s| s + 1),
                4 => { m.is_last_page = m.is_last_page.map(|b| !b); }
                5 => m.next_page_start = Some(m.next_page_start.unwrap_or(*asked) + 1),
                _ => m.start = Some(*asked + 1),
            }
            // A dropped item from an empty page is no lie; the dropped last item of a one-item
            // last page with `total` unchanged still is.
            prop_assert!(run(&pages).is_err(), "lie {} on page {} of {:?} passed", lie, k, pages);
        }
    }
}
