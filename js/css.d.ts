// CSS imported by js/page-player.js: esbuild's "text" loader makes each file its contents as a string.
declare module "*.css" {
  const text: string;
  export default text;
}
