/**
 * `text` without accents (the combining marks of its NFD form): how customer
 * text, FAQ keywords and FAQ patterns are compared, so "horário" is "horario".
 */
export function stripAccents(text: string): string {
  return text.normalize('NFD').replace(/\p{M}+/gu, '');
}
