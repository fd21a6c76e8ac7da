//! The reviewed data files: embedded in the binary, overridable per clinic.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context;
use include_dir::{include_dir, Dir};

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../data");

/// Reads `data/` files: a file in the override directory wins over the
/// embedded copy with the same relative path.
#[derive(Debug, Clone, Default)]
pub struct DataFiles {
    override_dir: Option<PathBuf>,
}

impl DataFiles {
    pub fn embedded() -> DataFiles {
        DataFiles { override_dir: None }
    }

    pub fn with_override_dir(dir: PathBuf) -> DataFiles {
        DataFiles {
            override_dir: Some(dir),
        }
    }

    /// The text of `relative_path` (e.g. `security/common-passwords.txt`).
    pub fn read_text(&self, relative_path: &str) -> anyhow::Result<String> {
        if let Some(dir) = &self.override_dir {
            let path = dir.join(relative_path);
            if path.exists() {
                return std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()));
            }
        }
        let file = EMBEDDED
            .get_file(relative_path)
            .with_context(|| format!("no data file {relative_path}"))?;
        file.contents_utf8()
            .map(str::to_string)
            .with_context(|| format!("data file {relative_path} is not UTF-8"))
    }

    /// The files directly in `relative_dir` (e.g. `instruments`), as relative
    /// paths (`instruments/phq-9.toml`), sorted: every embedded file plus any
    /// extra file in the override directory. A name in both appears once, and
    /// `read_text` gives the override's copy.
    pub fn list(&self, relative_dir: &str) -> anyhow::Result<Vec<String>> {
        let mut names = BTreeSet::new();
        if let Some(dir) = EMBEDDED.get_dir(relative_dir) {
            for file in dir.files() {
                if let Some(name) = file.path().file_name().and_then(|n| n.to_str()) {
                    names.insert(format!("{relative_dir}/{name}"));
                }
            }
        }
        if let Some(dir) = &self.override_dir {
            let path = dir.join(relative_dir);
            if path.is_dir() {
                for entry in std::fs::read_dir(&path)
                    .with_context(|| format!("listing {}", path.display()))?
                {
                    let entry = entry.with_context(|| format!("listing {}", path.display()))?;
                    if !entry
                        .file_type()
                        .with_context(|| format!("reading {}", entry.path().display()))?
                        .is_file()
                    {
                        continue;
                    }
                    let name = entry.file_name();
                    let name = name.to_str().with_context(|| {
                        format!("{}: file name is not UTF-8", entry.path().display())
                    })?;
                    names.insert(format!("{relative_dir}/{name}"));
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Non-empty, non-comment lines of a list file.
    pub fn read_list(&self, relative_path: &str) -> anyhow::Result<Vec<String>> {
        Ok(self
            .read_text(relative_path)?
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(str::to_string)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_load_and_an_override_wins() {
        let embedded = DataFiles::embedded()
            .read_list("security/common-passwords.txt")
            .unwrap();
        assert!(embedded.iter().any(|p| p == "password1234"));
        assert!(embedded.iter().all(|p| !p.starts_with('#')));

        let dir = std::env::temp_dir().join(format!("ketaclinic-data-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("security")).unwrap();
        std::fs::write(
            dir.join("security/common-passwords.txt"),
            "# ours\nclinicpassword\n",
        )
        .unwrap();
        let overridden = DataFiles::with_override_dir(dir)
            .read_list("security/common-passwords.txt")
            .unwrap();
        assert_eq!(overridden, ["clinicpassword"]);
        assert!(DataFiles::embedded().read_text("no/such.file").is_err());
    }

    #[test]
    fn a_listing_joins_embedded_and_override_files() {
        let embedded = DataFiles::embedded().list("instruments").unwrap();
        assert!(
            embedded.contains(&"instruments/phq-9.toml".to_string()),
            "{embedded:?}"
        );
        assert!(
            !embedded
                .iter()
                .any(|p| p.starts_with("instruments/wording")),
            "only files directly in the folder"
        );
        assert!(DataFiles::embedded()
            .list("no-such-folder")
            .unwrap()
            .is_empty());

        let dir = std::env::temp_dir().join(format!("ketaclinic-data-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("instruments/sub")).unwrap();
        std::fs::write(dir.join("instruments/phq-9.toml"), "ours").unwrap();
        std::fs::write(dir.join("instruments/zz-clinic.toml"), "extra").unwrap();
        let files = DataFiles::with_override_dir(dir);
        let listed = files.list("instruments").unwrap();
        assert_eq!(listed.len(), embedded.len() + 1, "{listed:?}");
        assert_eq!(
            listed
                .iter()
                .filter(|p| *p == "instruments/phq-9.toml")
                .count(),
            1
        );
        assert_eq!(listed.last().unwrap(), "instruments/zz-clinic.toml");
        assert_eq!(files.read_text("instruments/phq-9.toml").unwrap(), "ours");
        assert!(files
            .read_text("instruments/gad-7.toml")
            .unwrap()
            .contains("id = \"gad-7\""));
    }
}
