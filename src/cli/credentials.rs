//! Credentials apply will need, checked before it writes and listed by plan as warnings, each
//! with the integration and where its reference is written (`gij.toml:12:14`).

use crate::apply::steps::{Unresolved, unresolved_credentials};
use crate::config::LoadedConfig;
use crate::plan::model::{Action, Plan};

/// One line per credential that cannot be read: position, reference, integration, reason.
fn lines(loaded: &LoadedConfig, missing: &[Unresolved]) -> Vec<String> {
    missing
        .iter()
        .map(|u| {
            let spans = &loaded.source.spans;
            let at = spans
                .value(&["integrations", &u.key, "credential"])
                .or_else(|| spans.key(&["integrations", &u.key]))
                .map_or_else(
                    || loaded.source.name.clone(),
                    |sp| loaded.source.location(sp.start),
                );
            format!(
                "{at}: `{}` of integration `{}`: {}",
                u.reference, u.key, u.reason
            )
        })
        .collect()
}

/// Prints a warning per credential the plan's actions would need and that cannot be read
/// here. Plan runs are often made where the git tokens are not (a pull-request job), so this
/// warns rather than fails; apply refuses.
pub(crate) fn warn_unresolved(loaded: &LoadedConfig, plan: &Plan) {
    let actions: Vec<&Action> = plan.actions.iter().collect();
    let missing = unresolved_credentials(&actions, &loaded.desired, &loaded.base_dir);
    for l in lines(loaded, &missing) {
        anstream::eprintln!("warning: apply will need a credential it cannot read here: {l}");
    }
}

/// Prints every credential apply's preparation could not read, and the fix (nothing has been
/// changed yet: preparation precedes the first write).
pub(crate) fn report(loaded: &LoadedConfig, missing: &[Unresolved]) {
    for l in lines(loaded, missing) {
        anstream::eprintln!("error: cannot read a credential: {l}");
    }
    anstream::eprintln!(
        "error: {} credential{} cannot be read; set the variables or provide the files, then run apply again; nothing was changed",
        missing.len(),
        if missing.len() == 1 { "" } else { "s" }
    );
}
