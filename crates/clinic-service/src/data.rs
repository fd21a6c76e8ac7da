//! The reviewed data files: embedded in the binary, overridable per clinic.

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
        DataFiles { override_dir: Some(dir) }
    }

    /// The text of `relative_path` (e.g. `security/common-passwords.txt`).
    pub fn read_text(&self, relative_path: &str) -> anyhow::Result<String> {
        if let Some(dir) = &self.override_dir {
            let path = dir.join(relative_path);
            if path.exists() {
                return std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()));
            }
        }
        let file = EMBEDDED.get_file(relative_path).with_context(|| format!("no data file {relative_path}"))?;
        file.contents_utf8().map(str::to_string).with_context(|| format!("data file {relative_path} is not UTF-8"))
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
        let embedded = DataFiles::embedded().read_list("security/common-passwords.txt").unwrap();
        assert!(embedded.iter().any(|p| p == "password1234"));
        assert!(embedded.iter().all(|p| !p.starts_with('#')));

        let dir = std::env::temp_dir().join(format!("ketaclinic-data-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("security")).unwrap();
        std::fs::write(dir.join("security/common-passwords.txt"), "# ours\nclinicpassword\n").unwrap();
        let overridden = DataFiles::with_override_dir(dir).read_list("security/common-passwords.txt").unwrap();
        assert_eq!(overridden, ["clinicpassword"]);
        assert!(DataFiles::embedded().read_text("no/such.file").is_err());
    }
}
