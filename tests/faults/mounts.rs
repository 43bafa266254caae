//! Small file systems the test mounts (it runs as root) and breaks: a tmpfs
//! of a few MiB, or an ext4 image on a loop device. Everything is undone
//! in `Drop`: flags cleared, unmounted (lazily if still busy), removed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

pub struct Mount {
    pub dir: PathBuf,
    image: Option<PathBuf>,
    immutable: Mutex<Vec<PathBuf>>,
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|error| format!("{program}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {} {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

fn fresh_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gavel-faults-mnt-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("create a mount point");
    dir
}

impl Mount {
    /// A tmpfs of `size` (`mount -t tmpfs -o size=…`).
    pub fn tmpfs(size: &str) -> Result<Self, String> {
        let dir = fresh_dir();
        if let Err(error) = run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                path_str(&dir),
            ],
        ) {
            let _ = std::fs::remove_dir(&dir);
            return Err(error);
        }
        Ok(Self {
            dir,
            image: None,
            immutable: Mutex::new(Vec::new()),
        })
    }

    /// An ext4 file system of `mib` MiB in an image file on a loop device.
    pub fn ext4_image(mib: u64) -> Result<Self, String> {
        let dir = fresh_dir();
        let image = dir.with_extension("img");
        let made = std::fs::File::create(&image)
            .and_then(|file| file.set_len(mib * 1024 * 1024))
            .map_err(|error| format!("create {}: {error}", image.display()))
            .and_then(|()| run("mkfs.ext4", &["-q", "-F", path_str(&image)]))
            .and_then(|()| run("mount", &["-o", "loop", path_str(&image), path_str(&dir)]));
        if let Err(error) = made {
            let _ = std::fs::remove_file(&image);
            let _ = std::fs::remove_dir(&dir);
            return Err(error);
        }
        Ok(Self {
            dir,
            image: Some(image),
            immutable: Mutex::new(Vec::new()),
        })
    }

    /// `mount -o remount,OPTIONS`.
    pub fn remount(&self, options: &str) -> Result<(), String> {
        run(
            "mount",
            &["-o", &format!("remount,{options}"), path_str(&self.dir)],
        )
    }

    /// `chattr +i` / `-i`: an immutable file refuses writes even through
    /// descriptors opened before, even for root (ext4).
    pub fn set_immutable(&self, path: &Path, on: bool) -> Result<(), String> {
        run("chattr", &[if on { "+i" } else { "-i" }, path_str(path)])?;
        let mut flagged = self
            .immutable
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if on {
            flagged.push(path.to_path_buf());
        } else {
            flagged.retain(|p| p != path);
        }
        Ok(())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let flagged = std::mem::take(
            &mut *self
                .immutable
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for path in flagged {
            let _ = run("chattr", &["-i", path_str(&path)]);
        }
        let dir = path_str(&self.dir).to_string();
        if run("umount", &[&dir]).is_err() {
            let _ = run("umount", &["-l", &dir]);
        }
        let _ = std::fs::remove_dir(&self.dir);
        if let Some(image) = &self.image {
            let _ = std::fs::remove_file(image);
        }
    }
}
