// Durations as people read them: a pod's age as kubectl prints it, a recording's position as a player does.

/**
 * kubectl's AGE column (k8s.io/apimachinery duration.HumanDuration); the kernel has the same in Python
 * (k8sterm_widget/browser/rows.py), and tests/js/test_js_and_python_agree.py checks that the two agree.
 * @param {number} seconds
 */
export function humanDuration(seconds) {
  const s = Math.floor(seconds);
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return `${s}s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 10) return s % 60 ? `${minutes}m${s % 60}s` : `${minutes}m`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 ? `${hours}h${minutes % 60}m` : `${hours}h`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 ? `${Math.floor(hours / 24)}d${hours % 24}h` : `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const years = Math.floor(hours / (24 * 365));
  if (hours < 24 * 365 * 8) {
    const days = Math.floor((hours % (24 * 365)) / 24);
    return days ? `${years}y${days}d` : `${years}y`;
  }
  return `${years}y`;
}

/**
 * A position in a recording: minutes and seconds (`1:05`).
 * @param {number} seconds
 */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

