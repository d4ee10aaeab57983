/** SQL files imported as text (`import sql from "./x.sql" with { type: "text" }`; Bun embeds them when compiling). */
declare module "*.sql" {
  const text: string;
  export default text;
}
