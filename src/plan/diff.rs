//! The diff: matches declarations to live integrations and turns every difference into an
//! [`Action`]. Ordering and estimates are left to [`super::order`].
//!
//! Matching: a pinned id wins; otherwise the natural key (service, normalised origin, owner
//! compared case-insensitively). Two live integrations matching one declaration, or one live
//! integration claimed twice, is an error listing the candidates: guessing would let apply
//! change the wrong integration. A different display name is an update, never a replacement.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};
use std::rc::Rc;

use serde_json::Value;

use super::fields::{self, SETTINGS_FIELDS};
use super::fingerprint::{
    LiveScope, credential_fingerprint, desired_fingerprint, live_fingerprint,
};
use super::keys::{KeySource, suggest_keys};
use super::live::{LiveState, normalize_settings, normalized_settings};
use super::model::{
    Action, ActionKind, CreateSpec, CredentialNote, FieldChange, Identity, KeyList, Phase,
    ProjectsView, RepoRef, Risk, SelectorView, SettingValue, UnmanagedIntegration,
};
use super::order::{self, Pending};
use super::{Candidate, FastMap, FastSet, PlanError, PlanOptions};
use crate::model::{
    AuthMethod, DesiredIntegration, DesiredState, Field, LiveIntegration, LiveProjects,
    ProjectScope, RepoMatcher, RepoSelector, Service, normalize_origin,
};

/// Computes the plan that makes `live` match `desired`.
///
/// Errors (ambiguous or impossible matches, unknown projects, unknown `--rotate` keys) are all
/// collected and returned together, so that one run shows every problem.
pub fn plan(
    desired: &DesiredState,
    live: &LiveState,
    opts: &PlanOptions,
) -> Result<super::Plan, PlanError> {
    plan_into(desired, live, opts, None)
}

/// [`plan`], plus the live id each declaration matched, in file order (`None`: missing on the
/// site). `gijctl status` names live integrations by config key with it, through the same
/// matching as the plan; a separate entry point so that planning itself collects nothing.
pub fn plan_matched(
    desired: &DesiredState,
    live: &LiveState,
    opts: &PlanOptions,
) -> Result<(super::Plan, Vec<Option<u64>>), PlanError> {
    let mut ids = Vec::new();
    let plan = plan_into(desired, live, opts, Some(&mut ids))?;
    Ok((plan, ids))
}

fn plan_into(
    desired: &DesiredState,
    live: &LiveState,
    opts: &PlanOptions,
    mut ids: Option<&mut Vec<Option<u64>>>,
) -> Result<super::Plan, PlanError> {
    match plan_with(desired, live, opts, IndexWhen::Needed, ids.as_deref_mut()) {
        Ok(result) => result,
        // A guessed match turned out to share its key (a site with duplicate integrations):
        // plan again with the index from the start. Only a plan that ends in an ambiguity
        // error gets here, so a valid plan is never made twice.
        Err(GuessedShared) => plan_with(desired, live, opts, IndexWhen::First, ids)
            .expect("with the index built first, no match is guessed without it"),
    }
}

/// [`plan`], building the natural-key index first or only once a declaration needs it (see
/// [`Matching`]).
fn plan_with(
    desired: &DesiredState,
    live: &LiveState,
    opts: &PlanOptions,
    index_when: IndexWhen,
    ids: Option<&mut Vec<Option<u64>>>,
) -> Result<Result<super::Plan, PlanError>, GuessedShared> {
    let mut errors = Vec::new();
    for key in &opts.rotate {
        if !desired.integrations.iter().any(|d| &d.key == key) {
            errors.push(PlanError::UnknownRotateKey { key: key.clone() });
        }
    }
    // Matching errors come before the diff's, as when matching was a pass of its own.
    let mut matches: Vec<Match<'_>> = vec![None; desired.integrations.len()];
    let mut matching = Matching::new(desired, live, &mut matches, &mut errors, index_when);
    let mut diff_errors = Vec::new();
    let known = KnownProjects::new(live);
    let mut pending = Vec::new();
    // Built in the diff loop, while each declaration's key is in cache: at 100,000
    // integrations a later pass over the declarations read every key from memory again.
    let mut unchanged = KeyList::default();
    // Declared values that differ from the placeholder of what the site did not report.
    let mut unverified = Unverified::default();
    for (i, (d, m)) in desired
        .integrations
        .iter()
        .zip(matches.iter_mut())
        .enumerate()
    {
        prefetch_ahead(desired, live, i, matching.next);
        if d.pinned_id.is_none() {
            *m = matching.natural(d, &mut errors)?;
        }
        let before = diff_errors.len();
        check_projects(d, live, &known, &mut diff_errors);
        let actions = match m {
            Some((l, same)) => {
                diff_matched(d, l, *same, live, opts, &mut unverified, &mut diff_errors)
            }
            None => diff_missing(d, &mut diff_errors),
        };
        if diff_errors.len() == before {
            if actions.is_empty() {
                unchanged.push(&d.key);
            }
            pending.extend(actions);
        }
    }
    matching.check_guesses()?;
    if let Some(ids) = ids {
        *ids = matches.iter().map(|m| m.map(|(l, _)| l.id)).collect();
    }
    errors.append(&mut diff_errors);

    let prune = opts.prune.unwrap_or(desired.policy.prune);
    let mut sources: Vec<KeySource<'_>> = Vec::new();
    for (_, l) in live
        .integrations
        .iter()
        .enumerate()
        .filter(|(pos, _)| !matching.is_claimed(*pos))
    {
        sources.push(KeySource {
            id: l.id,
            service: l.service.config_name(),
            owner: &l.owner,
        });
    }
    for u in &live.unsupported {
        sources.push(KeySource {
            id: u.id,
            service: &u.wire_type,
            owner: &u.owner,
        });
    }
    let suggested = if sources.is_empty() {
        BTreeMap::new()
    } else {
        suggest_keys(
            &sources,
            desired.integrations.iter().map(|d| d.key.as_str()),
        )
    };
    let mut unmanaged = Vec::new();
    for (_, l) in live
        .integrations
        .iter()
        .enumerate()
        .filter(|(pos, _)| !matching.is_claimed(*pos))
    {
        if prune {
            pending.push(delete_action(l));
        } else {
            unmanaged.push(UnmanagedIntegration {
                id: l.id,
                service: l.service.config_name().to_owned(),
                origin: l.origin.clone(),
                owner: l.owner.clone(),
                display_name: l.display_name.clone(),
                auth: l.auth,
                repositories: l.repositories.len(),
                suggested_key: suggested.get(&l.id).cloned().unwrap_or_default(),
            });
        }
    }
    for u in &live.unsupported {
        unmanaged.push(UnmanagedIntegration {
            id: u.id,
            service: u.wire_type.clone(),
            origin: u.origin.clone(),
            owner: u.owner.clone(),
            display_name: u.display_name.clone(),
            auth: Some(AuthMethod::Pat),
            repositories: u.repositories,
            suggested_key: suggested.get(&u.id).cloned().unwrap_or_default(),
        });
    }
    unmanaged.sort_by_key(|u| u.id);

    match errors.len() {
        0 => {}
        1 => return Ok(Err(errors.remove(0))),
        _ => return Ok(Err(PlanError::Multiple(errors))),
    }

    let policy_slots = opts
        .max_parallel_indexing
        .unwrap_or(desired.policy.max_parallel_indexing);
    // The config key of a live integration, asked only for the integrations indexing now:
    // built on first use, so a site with nothing indexing pays nothing.
    let busy_keys: OnceCell<HashMap<u64, &str>> = OnceCell::new();
    let key_of = |id: u64| {
        busy_keys
            .get_or_init(|| {
                desired
                    .integrations
                    .iter()
                    .zip(&matches)
                    .filter_map(|(d, m)| m.map(|(l, _)| (l.id, d.key.as_str())))
                    .collect()
            })
            .get(&id)
            .map(|k| (*k).to_owned())
    };
    let mut plan = order::finish(
        pending,
        unchanged,
        live,
        unmanaged,
        policy_slots,
        &key_of,
        opts.meta.clone(),
    );
    if let Some(w) = unverified_warning(&unverified) {
        plan.warnings.push(w);
    }
    Ok(Ok(plan))
}

/// What a plan could not compare because the site's answers do not carry it: declared values
/// that differ from the placeholder standing in for the unreported live value.
#[derive(Debug, Default)]
struct Unverified {
    /// Settings (see [`LiveIntegration::unknown`]).
    settings: BTreeSet<Field>,
    /// Some integration is declared `auth = "oauth"` on a site that does not report the auth
    /// method (see [`LiveIntegration::auth`]; GIJ's default, the placeholder, is a PAT).
    auth: bool,
}

/// The plan's one note for what it could not compare because the site's answers do not carry
/// it: an unknown live value is not a change, so a plan converges on such a site, but it
/// cannot verify the value either.
fn unverified_warning(unverified: &Unverified) -> Option<String> {
    if unverified.settings.is_empty() && !unverified.auth {
        return None;
    }
    let names: Vec<String> = unverified
        .auth
        .then(|| "auth".to_owned())
        .into_iter()
        .chain(unverified.settings.iter().map(|f| fields::field_name(*f)))
        .collect();
    let mut what = Vec::new();
    if !unverified.settings.is_empty() {
        what.push(
            "apply sends the settings when it creates an integration or updates it for another \
             change",
        );
    }
    if unverified.auth {
        // Apply sends the auth method only on create, and a switch to OAuth needs a browser.
        what.push(
            "an integration declared `auth = \"oauth\"` that is a PAT one on the site must be \
             switched in GIJ's UI",
        );
    }
    Some(format!(
        "this site's integration list does not report {}, so plan cannot verify the declared \
         values: they are not shown as changes; {}",
        names.join(", "),
        what.join("; ")
    ))
}

/// A natural key: service, normalised origin (interned by [`Origins`]) and lower-cased owner,
/// borrowed when the owner is already lower case. Owned strings per key were, with their
/// frees, the largest allocator cost of planning 100,000 integrations.
type NaturalKey<'a> = (Service, u32, Cow<'a, str>);

/// Normalised origins of one planning run, interned. A site has a handful of distinct origins
/// shared by thousands of integrations, and parsing each one as a URL again was the largest
/// single cost of matching (perf on the generated 10000x20 site).
#[derive(Default)]
struct Origins {
    /// Raw origin -> id of its normalised form.
    raw: FastMap<String, u32>,
    /// Normalised origin -> id.
    normalised: FastMap<String, u32>,
}

impl Origins {
    /// The id of [`normalize_origin`]`(origin)`: equal ids for equal normalised origins.
    /// Parses each distinct origin once and allocates nothing on a hit.
    fn id(&mut self, origin: &str) -> u32 {
        if let Some(id) = self.raw.get(origin) {
            return *id;
        }
        let n = normalize_origin(origin);
        let next = u32::try_from(self.normalised.len()).unwrap_or(u32::MAX);
        let id = *self.normalised.entry(n).or_insert(next);
        self.raw.insert(origin.to_owned(), id);
        id
    }
}

/// `owner.to_lowercase()`, borrowed when that changes nothing (checked on ASCII only: any other
/// owner is lower-cased as before).
fn lower_owner(owner: &str) -> Cow<'_, str> {
    if owner
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        Cow::Borrowed(owner)
    } else {
        Cow::Owned(owner.to_lowercase())
    }
}

fn desired_key<'a>(d: &'a DesiredIntegration, origins: &mut Origins) -> NaturalKey<'a> {
    (d.service, origins.id(&d.origin), lower_owner(&d.owner))
}

/// [`desired_key`] of a live integration.
fn live_key<'a>(l: &'a LiveIntegration, origins: &mut Origins) -> NaturalKey<'a> {
    (l.service, origins.id(&l.origin), lower_owner(&l.owner))
}

/// Whether `owner` lower-cased is `lowered` (an owner already lower-cased by
/// [`lower_owner`]), without allocating for ASCII owners.
fn owner_is(owner: &str, lowered: &str) -> bool {
    if owner.is_ascii() {
        owner.len() == lowered.len()
            && owner
                .bytes()
                .zip(lowered.bytes())
                .all(|(a, b)| a.to_ascii_lowercase() == b)
    } else {
        owner.to_lowercase() == lowered
    }
}

/// The live integrations by natural key, as positions in `live.integrations`.
///
/// The table holds 8-byte entries (a position and 32 bits of the key's hash); equality is
/// decided from the integrations themselves (hashbrown's `HashTable`). Why: a map holding each
/// key and its candidates took 64 bytes an entry, 8 MB at 100,000 integrations, and nearly
/// every lookup missed the cache (perf: the largest single stall of the diff loop). The hash
/// bits let a lookup skip the entries of other keys without reading their integration.
struct NaturalIndex {
    table: hashbrown::HashTable<Entry>,
    /// Interned origin of each live integration, by position.
    origins: Vec<u32>,
    /// The other live integrations sharing the key of the one in the table (keyed by its
    /// position), in position order. Rare: two integrations of one owner on one service.
    more: FastMap<u32, Vec<u32>>,
    /// Whether the live integration at each position shares its key with another one.
    shared: Vec<bool>,
    hasher: foldhash::fast::RandomState,
}

/// An entry of [`NaturalIndex`]: a live position and the high half of its key's hash.
#[derive(Clone, Copy)]
struct Entry {
    pos: u32,
    tag: u32,
}

impl NaturalIndex {
    /// Indexes every live integration. `read` holds the keys of those the diff loop already
    /// matched by guess (see [`Matching`]): their strings are not read again. Also answers
    /// whether one of those shares its key with another live integration, that is whether a
    /// guess took one of several candidates.
    fn new(
        live: &LiveState,
        interned: &mut Origins,
        read: ReadKeys,
        hasher: foldhash::fast::RandomState,
    ) -> (Self, bool) {
        let ReadKeys {
            mut origins,
            mut hashes,
            guessed,
        } = read;
        // The keys not read yet: origin and owner are heap strings read here for the first
        // time, so ask for them a few integrations ahead (see `prefetch_ahead`).
        for pos in 0..live.integrations.len() {
            if let Some(l) = live.integrations.get(pos + PREFETCH_DISTANCE)
                && origins[pos + PREFETCH_DISTANCE] == UNREAD
            {
                prefetch(l.origin.as_ptr());
                prefetch(l.owner.as_ptr());
            }
            if origins[pos] == UNREAD {
                origins[pos] = interned.id(&live.integrations[pos].origin);
                hashes[pos] = hasher.hash_one(indexed_key(live, &origins, pos));
            }
        }
        let mut index = NaturalIndex {
            table: hashbrown::HashTable::with_capacity(live.integrations.len()),
            origins,
            more: FastMap::default(),
            shared: vec![false; live.integrations.len()],
            hasher,
        };
        for (pos, &hash) in hashes.iter().enumerate() {
            // A live state of 2^32 integrations cannot be held in memory (each is hundreds
            // of bytes), so positions always fit the table's 4-byte entries.
            let p = u32::try_from(pos).expect("fewer than 2^32 live integrations");
            // The key is built (its owner read) only for an entry with the same hash bits:
            // another integration with this key, or a rare collision.
            let t = tag(hash);
            let found = index.table.find(hash, |e| {
                e.tag == t
                    && index.has_key(
                        live,
                        e.pos as usize,
                        &indexed_key(live, &index.origins, pos),
                    )
            });
            match found.map(|e| e.pos) {
                Some(first) => {
                    index.more.entry(first).or_default().push(p);
                    index.shared[first as usize] = true;
                    index.shared[pos] = true;
                }
                None => {
                    index
                        .table
                        .insert_unique(hash, Entry { pos: p, tag: t }, |e| hashes[e.pos as usize]);
                }
            }
        }
        let read_shared = guessed.iter().any(|&pos| index.shared[pos as usize]);
        (index, read_shared)
    }

    fn hash(&self, key: &NaturalKey<'_>) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The position in the table of the live integrations whose natural key is `key`.
    fn find(&self, live: &LiveState, key: &NaturalKey<'_>, hash: u64) -> Option<u32> {
        let t = tag(hash);
        self.table
            .find(hash, |e| {
                e.tag == t && self.has_key(live, e.pos as usize, key)
            })
            .map(|e| e.pos)
    }

    /// Whether the live integration at `pos` has the natural key `key`.
    fn has_key(
        &self,
        live: &LiveState,
        pos: usize,
        (service, origin, owner): &NaturalKey<'_>,
    ) -> bool {
        let l = &live.integrations[pos];
        l.service == *service && self.origins[pos] == *origin && owner_is(&l.owner, owner)
    }

    /// Whether the live integration at `pos` exists, has the key `key` and is the only one
    /// with that key: then [`NaturalIndex::get`] would answer `pos` alone.
    fn is_unique(&self, live: &LiveState, pos: usize, key: &NaturalKey<'_>) -> bool {
        self.shared.get(pos) == Some(&false) && self.has_key(live, pos, key)
    }

    /// The live integrations whose natural key is `key`, in position order: the first, and
    /// the others when there are several.
    fn get(&self, live: &LiveState, key: &NaturalKey<'_>) -> Option<(usize, Option<&[u32]>)> {
        let first = self.find(live, key, self.hash(key))?;
        Some((first as usize, self.more.get(&first).map(Vec::as_slice)))
    }
}

/// The natural key of the live integration at `pos`, its origin already interned in
/// `origins` (as [`desired_key`] for a declaration).
fn indexed_key<'a>(live: &'a LiveState, origins: &[u32], pos: usize) -> NaturalKey<'a> {
    let l = &live.integrations[pos];
    (l.service, origins[pos], lower_owner(&l.owner))
}

/// The high half of a hash: a filter that lets a lookup skip most entries of other keys
/// without reading their integration (hashbrown's control byte already holds the top 7 of
/// these bits, the other 25 still tell most keys apart).
fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// A declaration's live integration, and whether their natural keys are equal (always for a
/// natural-key match; a pinned id may point at another service, host or owner).
type Match<'a> = Option<(&'a LiveIntegration, bool)>;

/// Position of the live integration with this id (as [`LiveState::get`]: a binary search, a
/// scan for a state built unsorted).
fn live_position(live: &LiveState, id: u64) -> Option<usize> {
    match live.integrations.binary_search_by_key(&id, |i| i.id) {
        Ok(i) => Some(i),
        Err(_) => live.integrations.iter().position(|i| i.id == id),
    }
}

/// Whether [`Matching`] builds the natural-key index before the first declaration or only when
/// one needs it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IndexWhen {
    First,
    Needed,
}

/// A match was guessed for a declaration before the index existed, and the index then showed
/// another live integration with the same key: with the index, that declaration is
/// ambiguous, so the plan is made again with [`IndexWhen::First`] to report it exactly.
#[derive(Debug)]
struct GuessedShared;

/// Origin id of a live position whose key has not been read.
const UNREAD: u32 = u32::MAX;

/// The keys of the live integrations the diff loop matched by guess before the index existed:
/// interned origin ([`UNREAD`] elsewhere) and hash by position, and those positions in order.
#[derive(Default)]
struct ReadKeys {
    origins: Vec<u32>,
    hashes: Vec<u64>,
    guessed: Vec<u32>,
}

/// Matches declarations to live integrations: pinned ids first (in [`Matching::new`], so that
/// they win over natural keys), then each other declaration in file order through
/// [`Matching::natural`], called from the diff loop so that a declaration's strings are read
/// once while they are in cache (at 100,000 integrations a separate pass read them cold).
///
/// The index of live natural keys is built only when a declaration does not match the live
/// integration after the previous match (or after the loop, to check the guesses). Why: on a
/// site that apply created in file order, every declaration matches that way, and indexing
/// first read every live key one more time, from memory at 100,000 integrations (timed alone,
/// the index pass took 16.6x longer at 100,000 than at 10,000; BENCHMARKS.md). The check after the loop keeps the
/// result exact: when a guessed live integration shares its key with another one, the plan
/// is made again with the index from the start ([`GuessedShared`]).
struct Matching<'a> {
    live: &'a LiveState,
    /// Natural keys of the live side, computed once: comparing every declaration with every
    /// live integration (normalising both each time) made matching 10,000 integrations take
    /// minutes. `None` until a declaration needs it (see above).
    by_key: Option<NaturalIndex>,
    /// Keys read by guesses while `by_key` is `None`.
    read: ReadKeys,
    hasher: foldhash::fast::RandomState,
    /// The declaration key claiming each live integration, by position: a vector, not a hash
    /// map by id, so that claims in file order touch memory in order.
    claimed_by: Vec<Option<&'a str>>,
    origins: Origins,
    /// The position after the last natural-key match (0 before any): the next declaration
    /// usually matches the live integration there (apply creates them in file order, ids
    /// grow), see [`Matching::natural`] and [`prefetch_ahead`].
    next: usize,
}

impl<'a> Matching<'a> {
    /// Matches the pinned declarations (`out[i]` for declaration i), and indexes the live side
    /// when `index_when` says so.
    fn new(
        desired: &'a DesiredState,
        live: &'a LiveState,
        out: &mut [Match<'a>],
        errors: &mut Vec<PlanError>,
        index_when: IndexWhen,
    ) -> Self {
        let n = live.integrations.len();
        let mut m = Matching {
            live,
            by_key: None,
            read: ReadKeys {
                origins: vec![UNREAD; n],
                hashes: vec![0; n],
                guessed: Vec::new(),
            },
            hasher: foldhash::fast::RandomState::default(),
            claimed_by: vec![None; n],
            origins: Origins::default(),
            next: 0,
        };
        if index_when == IndexWhen::First {
            m.index()
                .unwrap_or_else(|GuessedShared| unreachable!("nothing was guessed yet"));
        }
        for (i, d) in desired.integrations.iter().enumerate() {
            let Some(id) = d.pinned_id else { continue };
            match live_position(live, id) {
                Some(pos) => {
                    if m.claim(pos, &d.key, errors) {
                        let l = &live.integrations[pos];
                        let (lk, dk) =
                            (live_key(l, &mut m.origins), desired_key(d, &mut m.origins));
                        // A site that does not show the owner (GIJ's documented answers carry
                        // no `group`; an integration with no repository yet reveals none)
                        // cannot show it moved: the pin and the service and host decide.
                        let same =
                            lk == dk || (l.owner.trim().is_empty() && lk.0 == dk.0 && lk.1 == dk.1);
                        out[i] = Some((l, same));
                    }
                }
                None => errors.push(PlanError::PinnedMissing {
                    key: d.key.clone(),
                    id,
                }),
            }
        }
        m
    }

    /// Builds the index, with the keys the guesses read.
    fn index(&mut self) -> Result<(), GuessedShared> {
        let read = std::mem::take(&mut self.read);
        let (index, guessed_shared) =
            NaturalIndex::new(self.live, &mut self.origins, read, self.hasher.clone());
        if guessed_shared {
            return Err(GuessedShared);
        }
        self.by_key = Some(index);
        Ok(())
    }

    /// After the last declaration: whether every match guessed without the index is the one
    /// the index gives. Nothing to check (and no index built) when nothing was guessed, as
    /// when every declaration pins its id.
    fn check_guesses(&mut self) -> Result<(), GuessedShared> {
        if self.by_key.is_some() || self.read.guessed.is_empty() {
            return Ok(());
        }
        self.index()
    }

    fn claim(&mut self, pos: usize, key: &'a str, errors: &mut Vec<PlanError>) -> bool {
        match self.claimed_by[pos] {
            Some(first) => {
                let l = &self.live.integrations[pos];
                errors.push(PlanError::ClaimedTwice {
                    id: l.id,
                    display_name: l.display_name.clone(),
                    first: first.to_owned(),
                    second: key.to_owned(),
                });
                false
            }
            None => {
                self.claimed_by[pos] = Some(key);
                true
            }
        }
    }

    /// Without the index: whether the live integration at `next` has `key`, recording its key
    /// for the index if so.
    fn guess(&mut self, d_origin: &str, key: &NaturalKey<'_>) -> bool {
        let pos = self.next;
        let Some(l) = self.live.integrations.get(pos) else {
            return false;
        };
        // Origins written alike are the same origin; others are compared normalised.
        if l.service != key.0
            || !(l.origin == d_origin || self.origins.id(&l.origin) == key.1)
            || !owner_is(&l.owner, &key.2)
        {
            return false;
        }
        self.read.origins[pos] = key.1;
        self.read.hashes[pos] = self.hasher.hash_one(key);
        // Positions fit in u32: see `NaturalIndex::new`.
        self.read.guessed.push(pos as u32);
        true
    }

    /// The natural-key match of a declaration without a pinned id.
    fn natural(
        &mut self,
        d: &'a DesiredIntegration,
        errors: &mut Vec<PlanError>,
    ) -> Result<Match<'a>, GuessedShared> {
        let key = desired_key(d, &mut self.origins);
        // When the live integration after the last match has this key and no other live
        // integration shares that key, it is what the index would answer, without the index's
        // cache miss. Before the index exists, the second half is checked when it is built
        // (at the first declaration the guess misses, or after the loop).
        if self.by_key.is_none() && !self.guess(&d.origin, &key) {
            self.index()?;
        }
        let found = match &self.by_key {
            None => Some((self.next, None)),
            Some(index) if index.is_unique(self.live, self.next, &key) => Some((self.next, None)),
            Some(index) => index.get(self.live, &key),
        };
        let (first, many) = match found {
            None => return Ok(None),
            Some((first, None)) => (first, None),
            Some((first, Some(more))) => (first, Some(more.to_vec())),
        };
        let Some(more) = many else {
            self.next = first + 1;
            return Ok(self
                .claim(first, &d.key, errors)
                .then(|| (&self.live.integrations[first], true)));
        };
        errors.push(PlanError::Ambiguous {
            key: d.key.clone(),
            candidates: std::iter::once(first)
                .chain(more.into_iter().map(|p| p as usize))
                .map(|pos| {
                    let l = &self.live.integrations[pos];
                    Candidate {
                        id: l.id,
                        display_name: l.display_name.clone(),
                    }
                })
                .collect(),
        });
        Ok(None)
    }

    /// Whether some declaration claimed the live integration at `pos`.
    fn is_claimed(&self, pos: usize) -> bool {
        self.claimed_by[pos].is_some()
    }
}

/// How many declarations ahead [`prefetch_ahead`] asks for memory.
const PREFETCH_DISTANCE: usize = 8;

/// Asks the CPU to load the strings and repositories the diff of a later declaration (and of
/// the live integration it probably matches) will read. Perf on 10,000 and 100,000
/// integrations: the diff waits mostly for those scattered heap objects, each a cache miss
/// once the site no longer fits in the cache (a plain walk over every string and repository
/// name takes 65x longer at 10,000 integrations than at 1,000). A hint only: a wrong guess
/// costs a wasted load, never a wrong result.
fn prefetch_ahead(desired: &DesiredState, live: &LiveState, i: usize, next_match: usize) {
    let ahead = PREFETCH_DISTANCE;
    if let Some(d) = desired.integrations.get(i + ahead) {
        for s in [&d.key, &d.owner, &d.origin, &d.display_name] {
            prefetch(s.as_ptr());
        }
    }
    if let Some(l) = live.integrations.get(next_match + ahead) {
        for s in [&l.owner, &l.origin, &l.display_name] {
            prefetch(s.as_ptr());
        }
        let repos = l.repositories.as_ptr().cast::<u8>();
        let bytes = std::mem::size_of_val(l.repositories.as_slice());
        for off in (0..bytes).step_by(64) {
            prefetch(repos.wrapping_add(off));
        }
    }
    // Names one step ahead: the repository vectors asked for earlier have arrived by now.
    if let Some(l) = live.integrations.get(next_match + 1) {
        for r in &l.repositories {
            prefetch(r.name.as_ptr());
        }
    }
}

/// A prefetch hint for the cache line holding `p` (nothing on other architectures).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint that never faults nor reads into the program, whatever
        // the address (dangling pointers of empty strings included).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

fn identity_text(service: Service, owner: &str, origin: &str) -> String {
    format!("{service} `{owner}` at {origin}")
}

/// The Jira project keys of one planning run, for membership tests that allocate nothing
/// (`ProjectIndex::id_of` upper-cases into a new string, once per declared key).
struct KnownProjects<'a>(FastSet<&'a str>);

impl<'a> KnownProjects<'a> {
    fn new(live: &'a LiveState) -> Self {
        KnownProjects(live.projects.keys().collect())
    }

    /// Whether Jira knows `key` (case-insensitive, as `ProjectIndex::id_of`).
    fn contains(&self, key: &str, live: &LiveState) -> bool {
        if key.bytes().any(|b| b.is_ascii_lowercase()) {
            live.projects.id_of(key).is_some()
        } else {
            self.0.contains(key)
        }
    }
}

/// Reports the declared project keys Jira does not know.
fn check_projects(
    d: &DesiredIntegration,
    live: &LiveState,
    known: &KnownProjects<'_>,
    errors: &mut Vec<PlanError>,
) {
    let ProjectScope::Keys(keys) = &d.projects else {
        return;
    };
    for k in keys {
        if !known.contains(k.as_str(), live) {
            let suggestion = live
                .projects
                .keys()
                .map(|c| (strsim::jaro_winkler(c, k.as_str()), c))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, c)| c.to_owned());
            errors.push(PlanError::UnknownProject {
                key: d.key.clone(),
                project: k.as_str().to_owned(),
                suggestion,
            });
        }
    }
}

/// The declared projects as the plan shows them.
fn desired_projects(d: &DesiredIntegration) -> ProjectsView {
    match &d.projects {
        ProjectScope::All => ProjectsView::All,
        ProjectScope::Keys(keys) => {
            ProjectsView::Keys(keys.iter().map(|k| k.as_str().to_owned()).collect())
        }
    }
}

fn live_projects_view(p: &LiveProjects) -> ProjectsView {
    match p {
        LiveProjects::All => ProjectsView::All,
        LiveProjects::Keys(k) => {
            ProjectsView::Keys(k.iter().map(|k| k.to_ascii_uppercase()).collect())
        }
    }
}

/// `live_projects_view(live) == desired_projects(d)`, without building either view (most
/// integrations have the projects they declare).
fn same_projects(d: &DesiredIntegration, live: &LiveProjects) -> bool {
    match (&d.projects, live) {
        (ProjectScope::All, LiveProjects::All) => true,
        (ProjectScope::Keys(want), LiveProjects::Keys(have)) => {
            want.len() == have.len()
                && want.iter().zip(have).all(|(w, h)| {
                    let (w, h) = (w.as_str().as_bytes(), h.as_bytes());
                    w.len() == h.len() && w.iter().zip(h).all(|(a, b)| *a == b.to_ascii_uppercase())
                })
        }
        _ => false,
    }
}

/// Builds the creation spec of a declaration.
pub(crate) fn create_spec(d: &DesiredIntegration, projects: ProjectsView) -> CreateSpec {
    let s = normalize_settings(&d.settings);
    CreateSpec {
        service: d.service,
        origin: normalize_origin(&d.origin),
        owner: d.owner.clone(),
        display_name: d.display_name.clone(),
        auth: d.auth,
        username: d.username.clone(),
        aws_region: d.aws_region.clone(),
        projects,
        repositories: SelectorView {
            include: d.repositories.include.clone(),
            exclude: d.repositories.exclude.clone(),
        },
        settings: SETTINGS_FIELDS
            .iter()
            .filter_map(|f| fields::get(&s, *f).map(|value| SettingValue { field: *f, value }))
            .collect(),
        credential: credential_note(d),
    }
}

fn credential_note(d: &DesiredIntegration) -> CredentialNote {
    CredentialNote {
        auth: d.auth,
        reference_fingerprint: credential_fingerprint(d),
        username: d.username.clone(),
    }
}

fn new_action(
    d: &DesiredIntegration,
    target: Option<&LiveIntegration>,
    kind: ActionKind,
) -> Action {
    let live_fp = target.and_then(|l| LiveScope::of(&kind).map(|s| live_fingerprint(l, s)));
    Action {
        step: 0,
        key: d.key.clone(),
        target_id: target.map(|l| l.id),
        phase: Phase::Settings,
        starts_indexing: false,
        estimated_indexing_secs: None,
        api_calls: 0,
        risks: Vec::new(),
        live_fingerprint: live_fp,
        desired_fingerprint: Some(desired_fingerprint(d)),
        kind,
    }
}

fn pending(d: &DesiredIntegration, sub: u8, action: Action) -> Pending {
    Pending {
        action,
        order: d.order,
        file_index: d.file_index,
        sub,
    }
}

fn oauth_create_manual(d: &DesiredIntegration) -> ActionKind {
    ActionKind::Manual {
        reason: "OAuth integrations can only be created in GIJ's UI (the git service asks for \
                 consent in a browser)"
            .to_owned(),
        // The runbook's per-service instructions, so plan, apply and runbook say the same.
        instructions: crate::runbook::guide::oauth_create_instructions(
            d.service,
            &normalize_origin(&d.origin),
            &d.owner,
            &d.display_name,
        ),
    }
}

fn diff_missing(d: &DesiredIntegration, errors: &mut Vec<PlanError>) -> Vec<Pending> {
    let projects = desired_projects(d);
    // Cached: compiling the selector of every creation again was a visible cost at 100,000
    // integrations (1,000 creations).
    if cached_matcher(&d.repositories).is_err() {
        errors.push(invalid_selector(d));
    }
    if d.auth == AuthMethod::Oauth {
        let mut a = new_action(d, None, oauth_create_manual(d));
        creation_phase(d, &mut a);
        return vec![pending(d, 0, a)];
    }
    let spec = create_spec(d, projects);
    let mut a = new_action(d, None, ActionKind::Create(spec));
    creation_phase(d, &mut a);
    a.api_calls = create_calls(d);
    vec![pending(d, 0, a)]
}

/// Places a creation (API or OAuth by hand, or the create half of a replacement) by whether
/// it starts indexing: an enabled one indexes as soon as it exists, so it goes in the indexing
/// phase at its `order` and takes a slot; a disabled one starts nothing and goes with the
/// settings changes, where apply's executor runs it (its create step starts no indexing).
/// OAuth creations are done by a person, so apply's own schedule gives them no slot
/// ([`order::simulate`]), but their position is where the runbook gates them: one order for
/// both.
fn creation_phase(d: &DesiredIntegration, a: &mut Action) {
    a.starts_indexing = d.settings.enabled;
    a.phase = if a.starts_indexing {
        Phase::Indexing
    } else {
        Phase::Settings
    };
    a.estimated_indexing_secs = a
        .starts_indexing
        .then_some(order::ASSUMED_REPOSITORIES_ON_CREATE * order::SECS_PER_REPOSITORY);
}

fn create_calls(d: &DesiredIntegration) -> u32 {
    if d.repositories.selects_all() {
        1
    } else {
        // Create disabled, list the discovered repositories, enable; plus one call per
        // unwanted repository, unknown before discovery.
        3
    }
}

fn invalid_selector(d: &DesiredIntegration) -> PlanError {
    PlanError::InvalidSelector {
        key: d.key.clone(),
        message: d
            .repositories
            .matcher()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default(),
    }
}

/// A selector's `include` and `exclude` patterns.
type SelectorPatterns = (Vec<String>, Vec<String>);

/// Compiled selectors with the same hash of their patterns.
type MatcherBucket = Vec<(SelectorPatterns, Rc<RepoMatcher>)>;

thread_local! {
    /// Compiled selectors by the hash of their patterns. Thousands of declarations share a
    /// handful of selectors (usually the one from `[defaults]`), and compiling a glob set cost
    /// more than the rest of an integration's diff (perf on the generated 1000x20 site). Keyed
    /// by hash so that a lookup borrows the patterns: cloning them as the key allocated four
    /// times per integration.
    static MATCHERS: RefCell<HashMap<u64, MatcherBucket>> = RefCell::new(HashMap::new());
}

/// Most distinct selectors kept compiled; past it the cache starts over (memory stays bounded).
const MATCHER_CACHE_LIMIT: usize = 4096;

/// [`RepoSelector::matcher`], compiled once per distinct selector.
fn cached_matcher(sel: &RepoSelector) -> Result<Rc<RepoMatcher>, globset::Error> {
    let hash = {
        let mut h = std::hash::DefaultHasher::new();
        (&sel.include[..], &sel.exclude[..]).hash(&mut h);
        h.finish()
    };
    let found = MATCHERS.with(|c| {
        c.borrow().get(&hash).and_then(|bucket| {
            bucket
                .iter()
                .find(|((inc, exc), _)| *inc == sel.include && *exc == sel.exclude)
                .map(|(_, m)| m.clone())
        })
    });
    if let Some(m) = found {
        return Ok(m);
    }
    let m = Rc::new(sel.matcher()?);
    MATCHERS.with(|c| {
        let mut c = c.borrow_mut();
        if c.values().map(Vec::len).sum::<usize>() >= MATCHER_CACHE_LIMIT {
            c.clear();
        }
        c.entry(hash)
            .or_default()
            .push(((sel.include.clone(), sel.exclude.clone()), m.clone()));
    });
    Ok(m)
}

fn diff_matched(
    d: &DesiredIntegration,
    l: &LiveIntegration,
    same_identity: bool,
    live: &LiveState,
    opts: &PlanOptions,
    unverified: &mut Unverified,
    errors: &mut Vec<PlanError>,
) -> Vec<Pending> {
    let Ok(matcher) = cached_matcher(&d.repositories) else {
        errors.push(invalid_selector(d));
        return Vec::new();
    };
    let mut out = Vec::new();

    if !same_identity {
        // Only possible for a pinned id: the identity GIJ cannot change in place moved.
        if !d.allow_replace {
            errors.push(PlanError::IdentityChanged {
                key: d.key.clone(),
                id: l.id,
                live: identity_text(l.service, &l.owner, &l.origin),
                desired: identity_text(d.service, &d.owner, &normalize_origin(&d.origin)),
            });
            return out;
        }
        if d.auth == AuthMethod::Oauth {
            let mut a = new_action(d, Some(l), oauth_create_manual(d));
            a.risks = vec![Risk::Replace];
            return vec![pending(d, 0, a)];
        }
        let kind = ActionKind::Replace {
            old: Identity {
                service: l.service,
                origin: l.origin.clone(),
                owner: l.owner.clone(),
                display_name: l.display_name.clone(),
            },
            old_repositories: l.repositories.len(),
            create: create_spec(d, desired_projects(d)),
        };
        let mut a = new_action(d, Some(l), kind);
        creation_phase(d, &mut a);
        a.api_calls = 1 + create_calls(d);
        a.risks = vec![Risk::Delete, Risk::Replace];
        out.push(pending(d, 0, a));
        return out;
    }

    // Authentication method and credentials. A site that does not report the method cannot
    // show a switch to make: nothing is proposed, and a declared OAuth (not GIJ's default) is
    // named as unverified. Rotation needs no live method: it sends the declared credential.
    if l.auth.is_none() && d.auth == AuthMethod::Oauth {
        unverified.auth = true;
    }
    match (l.auth, d.auth) {
        (Some(AuthMethod::Pat), AuthMethod::Oauth) => {
            let kind = ActionKind::Manual {
                reason: "switching from a PAT to OAuth needs consent in a browser".to_owned(),
                instructions: vec![
                    format!(
                        "In Jira, open Git Integration: Manage integrations, edit {:?} (#{})",
                        l.display_name, l.id
                    ),
                    "Change the authentication to OAuth and grant access".to_owned(),
                    "Run `gijctl plan` again".to_owned(),
                ],
            };
            let mut a = new_action(d, Some(l), kind);
            a.risks = vec![Risk::AuthMethodChange];
            out.push(pending(d, 0, a));
        }
        (Some(AuthMethod::Oauth), AuthMethod::Pat) => {
            let kind = ActionKind::RotateCredential {
                credential: credential_note(d),
                switches_to_pat: true,
            };
            let mut a = new_action(d, Some(l), kind);
            a.api_calls = 1;
            a.risks = vec![Risk::AuthMethodChange];
            out.push(pending(d, 2, a));
        }
        (_, AuthMethod::Pat) if opts.rotate.contains(&d.key) => {
            let kind = ActionKind::RotateCredential {
                credential: credential_note(d),
                switches_to_pat: false,
            };
            let mut a = new_action(d, Some(l), kind);
            a.api_calls = 1;
            out.push(pending(d, 2, a));
        }
        (_, AuthMethod::Oauth) if opts.rotate.contains(&d.key) => {
            let kind = ActionKind::Manual {
                reason: "OAuth grants can only be renewed in a browser".to_owned(),
                instructions: vec![
                    format!(
                        "In Jira, open Git Integration: Manage integrations, edit {:?} (#{})",
                        l.display_name, l.id
                    ),
                    "Reconnect with OAuth".to_owned(),
                ],
            };
            out.push(pending(d, 0, new_action(d, Some(l), kind)));
        }
        _ => {}
    }

    // Settings, display name and projects.
    let ignored = |f: Field| d.ignore.contains(&f);
    let want = normalized_settings(&d.settings);
    let have = normalized_settings(&l.settings);
    let mut changes = Vec::new();
    let mut risks = BTreeSet::new();
    let mut enabling = None;
    if !ignored(Field::DisplayName) && d.display_name != l.display_name {
        changes.push(FieldChange {
            field: Field::DisplayName,
            old: Value::from(l.display_name.clone()),
            new: Value::from(d.display_name.clone()),
            added: Vec::new(),
            removed: Vec::new(),
        });
    }
    // Field by field (each as a JSON value) only when something differs: most integrations of
    // a large site are unchanged.
    let settings_differ = want != have;
    for f in SETTINGS_FIELDS.into_iter().filter(|_| settings_differ) {
        if ignored(f) {
            continue;
        }
        let (Some(old), Some(new)) = (fields::get(&have, f), fields::get(&want, f)) else {
            continue;
        };
        if old == new {
            continue;
        }
        // The site did not report this setting: its live value is unknown, not different.
        if l.unknown.contains(&f) {
            unverified.settings.insert(f);
            continue;
        }
        let change = FieldChange {
            field: f,
            old,
            new,
            added: Vec::new(),
            removed: Vec::new(),
        };
        if f == Field::Enabled && want.enabled {
            enabling = Some(change);
            continue;
        }
        if f == Field::RequireUserPat && !want.require_user_pat {
            risks.insert(Risk::RequireUserPatOff);
        }
        if matches!(f, Field::ApiPath | Field::ApiFilter) {
            risks.insert(Risk::RepositoryListChange);
        }
        changes.push(change);
    }
    if !ignored(Field::Projects) && !same_projects(d, &l.projects) {
        let old = live_projects_view(&l.projects);
        let projects = desired_projects(d);
        if old != projects {
            let (added, removed) = match (&old, &projects) {
                (ProjectsView::Keys(o), ProjectsView::Keys(n)) => (
                    n.iter().filter(|k| !o.contains(k)).cloned().collect(),
                    o.iter()
                        .filter(|k| !n.contains(k))
                        .cloned()
                        .collect::<Vec<_>>(),
                ),
                (ProjectsView::All, ProjectsView::Keys(n)) => (n.clone(), Vec::new()),
                (ProjectsView::Keys(_), ProjectsView::All) => (Vec::new(), Vec::new()),
                (ProjectsView::All, ProjectsView::All) => (Vec::new(), Vec::new()),
            };
            match (&old, &projects) {
                (ProjectsView::Keys(_), ProjectsView::All) => {
                    risks.insert(Risk::AllProjects);
                }
                (ProjectsView::All, ProjectsView::Keys(_)) => {
                    risks.insert(Risk::ProjectsRemoved);
                }
                _ if !removed.is_empty() => {
                    risks.insert(Risk::ProjectsRemoved);
                }
                _ => {}
            }
            changes.push(FieldChange {
                field: Field::Projects,
                old: old.to_value(),
                new: projects.to_value(),
                added,
                removed,
            });
        }
    }
    if !changes.is_empty() {
        let mut a = new_action(d, Some(l), ActionKind::Update { changes });
        a.api_calls = 1;
        a.risks = risks.into_iter().collect();
        out.push(pending(d, 1, a));
    }

    // Repositories.
    let target_enabled = if ignored(Field::Enabled) {
        l.settings.enabled
    } else {
        want.enabled
    };
    // A repository is enabled after apply when the selector wants it, or (repositories
    // ignored) when it is enabled now. Only read when the integration gets enabled, so it is
    // not collected for every integration; the selector is matched once per repository.
    let manage_repos = !ignored(Field::Repositories);
    let enabled_after = || -> Vec<u64> {
        l.repositories
            .iter()
            .filter(|r| {
                if manage_repos {
                    matcher.is_match(&r.name)
                } else {
                    r.enabled
                }
            })
            .map(|r| r.id)
            .collect()
    };
    if manage_repos {
        let mut enable = Vec::new();
        let mut disable = Vec::new();
        for r in &l.repositories {
            let wanted = matcher.is_match(&r.name);
            if wanted != r.enabled {
                let r_ref = RepoRef {
                    id: r.id,
                    name: r.name.clone(),
                };
                if wanted {
                    enable.push(r_ref);
                } else {
                    disable.push(r_ref);
                }
            }
        }
        if !enable.is_empty() || !disable.is_empty() {
            let starts = !enable.is_empty() && l.settings.enabled && target_enabled;
            let secs = order::repositories_secs(enable.iter().map(|r| r.id), live);
            let calls = u32::try_from(enable.len() + disable.len()).unwrap_or(u32::MAX);
            // Any enable goes in the indexing phase, where apply's executor gates every enable
            // request; it takes a slot (starts indexing) only when the integration is and
            // stays enabled.
            let enables = !enable.is_empty();
            let mut a = new_action(d, Some(l), ActionKind::Repositories { enable, disable });
            a.api_calls = calls;
            if enables {
                a.phase = Phase::Indexing;
                a.starts_indexing = starts;
                a.estimated_indexing_secs = starts.then_some(secs);
            }
            out.push(pending(d, 3, a));
        }
    }
    if let Some(change) = enabling {
        let enabled_after = enabled_after();
        let mut a = new_action(
            d,
            Some(l),
            ActionKind::Update {
                changes: vec![change],
            },
        );
        a.api_calls = 1;
        a.phase = Phase::Indexing;
        a.starts_indexing = true;
        a.estimated_indexing_secs = Some(if enabled_after.is_empty() {
            order::ASSUMED_REPOSITORIES_ON_CREATE * order::SECS_PER_REPOSITORY
        } else {
            order::repositories_secs(enabled_after.into_iter(), live)
        });
        out.push(pending(d, 4, a));
    }
    out
}

fn delete_action(l: &LiveIntegration) -> Pending {
    let kind = ActionKind::Delete {
        display_name: l.display_name.clone(),
        service: l.service.config_name().to_owned(),
        owner: l.owner.clone(),
        repositories: l.repositories.len(),
    };
    Pending {
        action: Action {
            step: 0,
            key: format!("#{}", l.id),
            target_id: Some(l.id),
            phase: Phase::Delete,
            starts_indexing: false,
            estimated_indexing_secs: None,
            api_calls: 1,
            risks: vec![Risk::Delete],
            live_fingerprint: Some(live_fingerprint(l, LiveScope::Whole)),
            desired_fingerprint: None,
            kind,
        },
        order: None,
        file_index: usize::MAX,
        sub: 0,
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    use super::super::live::LiveState;
    use super::super::testkit::{desired, live_from, projects, repos};
    use super::{GuessedShared, IndexWhen, PlanOptions, plan, plan_with};
    use crate::model::{ApplyPolicy, DesiredIntegration, DesiredState, LiveIntegration, Service};

    /// Origins as a config or a site may spell them: two spellings of each origin, two origins
    /// of each service, so that a different spelling is sometimes the same origin and
    /// sometimes not.
    const ORIGINS: [(Service, [&str; 2]); 4] = [
        (
            Service::Github,
            ["https://api.github.com", "https://API.github.com/"],
        ),
        (
            Service::Github,
            [
                "https://ghe.example.internal/api/v3",
                "ghe.example.internal/api/v3/",
            ],
        ),
        (
            Service::GitlabSelfManaged,
            ["https://git.example.internal", "git.example.internal/"],
        ),
        (
            Service::GitlabSelfManaged,
            [
                "https://git2.example.internal",
                "HTTPS://git2.example.internal/",
            ],
        ),
    ];
    /// Owner stems (a number is appended), non-ASCII ones included (`ß`, and the Kelvin sign,
    /// which lower-cases to `k`).
    const OWNERS: [&str; 5] = ["acme", "beta", "straße", "\u{212A}elvin", "kelvin"];

    /// A random identity: service, origin spelling, owner in a random case.
    fn identity(rng: &mut StdRng) -> (Service, &'static str, String) {
        let (service, spellings) = ORIGINS[rng.random_range(0..ORIGINS.len())];
        let owner = format!(
            "{}{}",
            OWNERS[rng.random_range(0..OWNERS.len())],
            rng.random_range(0..40)
        );
        (
            service,
            spellings[rng.random_range(0..2)],
            recase(rng, &owner),
        )
    }

    fn recase(rng: &mut StdRng, owner: &str) -> String {
        if rng.random_bool(0.2) {
            owner.to_uppercase()
        } else {
            owner.to_owned()
        }
    }

    /// A live integration with this identity (id set later).
    fn live_with(service: Service, origin: &str, owner: &str) -> LiveIntegration {
        let mut d = desired("template", service, owner, 0);
        d.origin = origin.to_owned();
        live_from(&d, 0, repos(0, &[("api", true)]))
    }

    /// A random config and site where keys collide often: duplicate live integrations, two
    /// declarations of one key, pinned ids (some missing), owners in other cases, origins
    /// spelt differently. Most sites are made from the config in file order (what apply
    /// creates, so that matching guesses), with live integrations left out, strays and
    /// duplicates inserted; some are shuffled, some are unrelated to the config.
    fn case(rng: &mut StdRng) -> (DesiredState, LiveState) {
        let mut decls: Vec<DesiredIntegration> = Vec::new();
        for i in 0..rng.random_range(0..30) {
            let (service, origin, owner) = identity(rng);
            let mut d = desired(&format!("k{i}"), service, &owner, i);
            d.origin = origin.to_owned();
            decls.push(d);
        }
        let mut integrations = Vec::new();
        if rng.random_bool(0.8) {
            for d in &decls {
                if rng.random_bool(0.1) {
                    let (service, origin, owner) = identity(rng);
                    integrations.push(live_with(service, origin, &owner));
                }
                // The same service and owner at the other origin of that service.
                let same_host = |s: &[&str; 2]| {
                    crate::model::normalize_origin(s[0])
                        == crate::model::normalize_origin(&d.origin)
                };
                let spellings = |same: bool| {
                    ORIGINS
                        .iter()
                        .find(|(service, s)| *service == d.service && same_host(s) == same)
                        .expect("two origins of each service in ORIGINS")
                        .1
                };
                if rng.random_bool(0.1) {
                    let other = spellings(false)[rng.random_range(0..2)];
                    let owner = recase(rng, &d.owner);
                    integrations.push(live_with(d.service, other, &owner));
                }
                if rng.random_bool(0.85) {
                    let origin = spellings(true)[rng.random_range(0..2)];
                    let owner = recase(rng, &d.owner);
                    integrations.push(live_with(d.service, origin, &owner));
                    if rng.random_bool(0.05) {
                        integrations.push(live_with(d.service, origin, &owner));
                    }
                }
            }
        } else {
            for _ in 0..rng.random_range(0..12) {
                let (service, origin, owner) = identity(rng);
                integrations.push(live_with(service, origin, &owner));
            }
        }
        for (i, l) in integrations.iter_mut().enumerate() {
            l.id = 10 + 10 * i as u64;
        }
        if rng.random_bool(0.15) {
            integrations.shuffle(rng);
        }
        let ids: Vec<u64> = integrations.iter().map(|l| l.id).collect();
        for d in &mut decls {
            if rng.random_bool(0.05) {
                d.pinned_id = Some(match ids.get(rng.random_range(0..ids.len() + 1)) {
                    Some(id) => *id,
                    None => 999_999,
                });
            }
        }
        let live = LiveState {
            integrations,
            projects: projects(),
            ..LiveState::default()
        };
        let desired = DesiredState {
            integrations: decls,
            policy: ApplyPolicy::default(),
        };
        (desired, live)
    }

    /// Matching without the index until a declaration needs it gives exactly the plan (or the
    /// errors) of indexing first, and the generated cases reach every way through it.
    #[test]
    fn late_index_plans_as_indexing_first() {
        let mut rng = StdRng::seed_from_u64(7);
        let opts = PlanOptions::default();
        let (mut planned, mut failed, mut replanned) = (0, 0, 0);
        for _ in 0..400 {
            let (desired, live) = case(&mut rng);
            let first = plan_with(&desired, &live, &opts, IndexWhen::First, None)
                .expect("nothing is guessed before the index");
            match plan_with(&desired, &live, &opts, IndexWhen::Needed, None) {
                Ok(late) => assert_eq!(late, first, "{desired:#?}\n{live:#?}"),
                Err(GuessedShared) => replanned += 1,
            }
            assert_eq!(plan(&desired, &live, &opts), first);
            match first {
                Ok(_) => planned += 1,
                Err(_) => failed += 1,
            }
        }
        assert!(
            planned > 50 && failed > 50 && replanned > 10,
            "{planned} plans, {failed} errors, {replanned} guesses of a shared key"
        );
    }
}

/// The auth method of a live integration whose site does not report it (`auth: None`).
#[cfg(test)]
mod unknown_auth_tests {
    use super::super::live::LiveState;
    use super::super::model::{ActionKind, Plan, Risk};
    use super::super::testkit::{desired, live_from, projects};
    use super::{PlanOptions, plan};
    use crate::model::{
        ApplyPolicy, AuthMethod, DesiredIntegration, DesiredState, Field, LiveIntegration, Service,
    };

    fn oauth(key: &str, owner: &str, i: usize) -> DesiredIntegration {
        let mut d = desired(key, Service::Github, owner, i);
        d.auth = AuthMethod::Oauth;
        d.credential = None;
        d
    }

    /// Plans `ds` against their own live copies, each with `auth` as the site reports it.
    fn plan_on(
        ds: &[DesiredIntegration],
        auth: Option<AuthMethod>,
        opts: &PlanOptions,
    ) -> (Plan, Vec<LiveIntegration>) {
        let live: Vec<LiveIntegration> = ds
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut l = live_from(d, 10 + i as u64, vec![]);
                l.auth = auth;
                l
            })
            .collect();
        let state = LiveState {
            integrations: live.clone(),
            projects: projects(),
            ..LiveState::default()
        };
        let desired = DesiredState {
            integrations: ds.to_vec(),
            policy: ApplyPolicy::default(),
        };
        (plan(&desired, &state, opts).unwrap(), live)
    }

    fn auth_warnings(p: &Plan) -> Vec<&String> {
        p.warnings
            .iter()
            .filter(|w| w.contains("does not report auth"))
            .collect()
    }

    /// A declared OAuth integration on a site that does not say how it authenticates is not a
    /// PAT to switch: no action, no risk, one warning naming `auth` for the whole plan. On a
    /// site that says PAT, the same declaration is the manual switch.
    #[test]
    fn declared_oauth_on_unknown_auth_is_unverified_not_a_switch() {
        let ds = [oauth("a", "acme", 0), oauth("b", "beta", 1)];
        let (p, _) = plan_on(&ds, None, &PlanOptions::default());
        assert!(p.actions.is_empty(), "{:#?}", p.actions);
        assert_eq!(p.unchanged.len(), 2);
        let w = auth_warnings(&p);
        assert_eq!(w.len(), 1, "{:?}", p.warnings);
        assert!(w[0].contains("auth = \"oauth\""), "{}", w[0]);
        assert!(!w[0].contains("apply sends the settings"), "{}", w[0]);

        let (p, _) = plan_on(&ds, Some(AuthMethod::Pat), &PlanOptions::default());
        assert_eq!(p.actions.len(), 2);
        assert!(
            p.actions.iter().all(|a| a.risks == [Risk::AuthMethodChange]
                && matches!(a.kind, ActionKind::Manual { .. }))
        );
        assert!(auth_warnings(&p).is_empty(), "{:?}", p.warnings);

        let (p, _) = plan_on(&ds, Some(AuthMethod::Oauth), &PlanOptions::default());
        assert!(p.actions.is_empty() && p.warnings.is_empty(), "{p:#?}");
    }

    /// A declared PAT is GIJ's default, the placeholder of an unknown method: nothing to
    /// verify, nothing to warn about.
    #[test]
    fn declared_pat_on_unknown_auth_is_unchanged_without_a_warning() {
        let ds = [desired("p", Service::Github, "acme", 0)];
        let (p, _) = plan_on(&ds, None, &PlanOptions::default());
        assert!(p.actions.is_empty(), "{:#?}", p.actions);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    /// `--rotate` needs no live method: a declared PAT sends its credential, without a
    /// switch or its risk; a declared OAuth grant is renewed in a browser.
    #[test]
    fn rotation_works_on_unknown_auth() {
        let ds = [
            desired("p", Service::Github, "acme", 0),
            oauth("o", "beta", 1),
        ];
        let opts = PlanOptions {
            rotate: ["p".to_owned(), "o".to_owned()].into(),
            ..PlanOptions::default()
        };
        let (p, _) = plan_on(&ds, None, &opts);
        assert_eq!(p.actions.len(), 2, "{:#?}", p.actions);
        let by_key = |k: &str| p.actions.iter().find(|a| a.key == k).unwrap();
        assert!(matches!(
            by_key("p").kind,
            ActionKind::RotateCredential {
                switches_to_pat: false,
                ..
            }
        ));
        assert!(by_key("p").risks.is_empty());
        let ActionKind::Manual { reason, .. } = &by_key("o").kind else {
            panic!("{:?}", by_key("o").kind)
        };
        assert!(reason.contains("renewed in a browser"), "{reason}");
        assert!(by_key("o").risks.is_empty());
    }

    /// The one warning names the auth method with the settings the site does not report.
    #[test]
    fn one_warning_names_auth_and_the_unreported_settings() {
        let mut d = oauth("a", "acme", 0);
        d.settings.tags_filter = "^v".into();
        let live = {
            let mut l = live_from(&d, 10, vec![]);
            l.auth = None;
            l.settings.tags_filter = String::new();
            l.unknown = [Field::TagsFilter].into();
            l
        };
        let state = LiveState {
            integrations: vec![live],
            projects: projects(),
            ..LiveState::default()
        };
        let desired = DesiredState {
            integrations: vec![d],
            policy: ApplyPolicy::default(),
        };
        let p = plan(&desired, &state, &PlanOptions::default()).unwrap();
        assert!(p.actions.is_empty(), "{:#?}", p.actions);
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        let w = &p.warnings[0];
        assert!(w.contains("does not report auth, tags-filter,"), "{w}");
        assert!(
            w.contains("apply sends the settings") && w.contains("switched in GIJ's UI"),
            "{w}"
        );
    }
}
