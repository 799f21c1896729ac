// Entry point of the front end. The terminal widget (issue: terminal widget) grows here; until then the
// module only proves the build pipeline: esbuild bundles xterm's CSS from npm into k8sterm_widget/static/.
import "@xterm/xterm/css/xterm.css";

/**
 * @param {{ model: any, el: HTMLElement }} ctx
 */
function render({ el }) {
  el.classList.add("k8sterm");
  el.textContent = "k8sterm_widget";
}

export default { render };
