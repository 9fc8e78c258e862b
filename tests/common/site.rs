//! The harness the apply and policy suites share: a real dev-server in the test process (time
//! scaled so indexing takes milliseconds) and the real `gijctl` binary pointed at it over
//! loopback.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use gijctl::devserver::{DevServer, DevServerConfig, Profile, RunningServer, SeedSource};
use serde_json::Value;

/// A dev-server in this process plus a temp dir for configs and plan files.
pub struct Site {
    pub rt: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Site {
    /// Starts a dev-server seeded with `seed` (time scale 2000 unless `tweak` says otherwise),
    /// in the profile [`default_profile`] names.
    pub fn start(seed: &Value, tweak: impl FnOnce(&mut DevServerConfig)) -> Site {
        Site::start_profile(seed, default_profile(), tweak)
    }

    /// [`Site::start`] in `profile` (`tweak` runs after the profile is set, so it may change it).
    pub fn start_profile(
        seed: &Value,
        profile: Profile,
        tweak: impl FnOnce(&mut DevServerConfig),
    ) -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let seed_path = dir.path().join("seed.json");
        std::fs::write(&seed_path, serde_json::to_vec_pretty(seed).unwrap()).unwrap();
        let mut cfg = DevServerConfig {
            seed: Some(SeedSource::Path(seed_path)),
            time_scale: 2000.0,
            profile,
            ..DevServerConfig::default()
        };
        tweak(&mut cfg);
        let server = rt.block_on(DevServer::start(cfg)).unwrap();
        Site {
            rt,
            server: Some(server),
            dir,
            env: Vec::new(),
        }
    }

    /// Adds an environment variable for every command run against this site.
    pub fn with_env(mut self, name: &str, value: &str) -> Site {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The running dev-server.
    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }

    /// Writes a file into the temp dir.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `gijctl ARGS --endpoint URL`, with the admin token in `GIJ_TOKEN`, no colour, no stdin.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gijctl"));
        c.args(args)
            .arg("--endpoint")
            .arg(self.server().base_url())
            .env("GIJ_TOKEN", self.server().admin_token().expose())
            .env("NO_COLOR", "1")
            .env_remove("GIJ_URL")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs `gijctl ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Requests that could change the site (everything but GETs), from the server's counter.
    pub fn writes(&self) -> u64 {
        self.server()
            .stats()
            .requests
            .iter()
            .filter(|(k, _)| !k.starts_with("GET "))
            .map(|(_, v)| *v)
            .sum()
    }

    /// Groups of the integrations on the site, sorted.
    pub fn groups(&self) -> Vec<String> {
        let mut g: Vec<String> = self
            .server()
            .state_snapshot()
            .integrations
            .values()
            .filter_map(|i| i.group.clone())
            .collect();
        g.sort();
        g
    }

    /// (type, group) of every integration on the site, duplicates kept.
    pub fn identities(&self) -> Vec<(String, Option<String>)> {
        self.server()
            .state_snapshot()
            .integrations
            .values()
            .map(|i| (i.integration_type.clone(), i.group.clone()))
            .collect()
    }

    /// Fails when two integrations share a type and group.
    pub fn assert_no_duplicates(&self) {
        let ids = self.identities();
        let unique: std::collections::BTreeSet<_> = ids.iter().cloned().collect();
        assert_eq!(ids.len(), unique.len(), "duplicate integrations: {ids:?}");
    }

    /// Someone edits integration `id` in GIJ's UI (a partial update through the API).
    pub fn edit_integration(&self, id: u64, body: &Value) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        self.rt.block_on(async {
            let r = reqwest::Client::new()
                .put(format!(
                    "{}/rest/gitplugin/1.0/integration/{id}",
                    self.server().base_url()
                ))
                .bearer_auth(self.server().admin_token().expose())
                .json(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        });
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

/// The profile [`Site::start`] uses: `GIJCTL_TEST_PROFILE` (`extended` or `documented`),
/// extended when unset, so a whole suite can be run against the documented profile with
/// `GIJCTL_TEST_PROFILE=documented cargo test`. The suites that matter run both profiles
/// explicitly ([`crate::both_profiles`]) whatever it says.
pub fn default_profile() -> Profile {
    match std::env::var("GIJCTL_TEST_PROFILE").as_deref() {
        Ok("documented") => Profile::Documented,
        Ok("extended") | Ok("") | Err(_) => Profile::Extended,
        Ok(other) => panic!("GIJCTL_TEST_PROFILE={other}: expected `extended` or `documented`"),
    }
}

/// The process's exit code (-1 when killed by a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
