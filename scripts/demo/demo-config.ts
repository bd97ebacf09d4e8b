/** The demo business: two branches on the Telegram emulator, three action agents, FAQ, a staff group per branch. */
export const DEMO_TOKENS = { lisboa: '100001:DEMO-LISBOA-BOT', porto: '100002:DEMO-PORTO-BOT' };
export const DEMO_PEOPLE = {
  ana: { id: 1001, name: 'Ana' },
  bruno: { id: 1002, name: 'Bruno' },
  staffGroup: -100777,
  portoStaffGroup: -100778,
  customers: [
    { id: 5001, name: 'Rui' },
    { id: 5002, name: 'Marta' },
    { id: 5003, name: 'John' },
    { id: 5004, name: 'Inês' },
  ],
};

export function demoYaml(operatorHash: string): string {
  return `
business:
  name: Câmbio Demo
defaults:
  autonomy: supervised
approvals:
  learnAfter: 3
operators:
  - { username: demo, name: Demo Operator, passwordHash: "${operatorHash}", manager: ana }
branches:
  - id: lisboa
    name: Lisboa Centro
    timezone: Europe/Lisbon
    address: Rua Augusta 100, Lisboa
    autonomy: semi_autonomous
    managers:
      - { id: ana, name: Ana, role: owner, telegram: ${DEMO_PEOPLE.ana.id} }
    agents:
      - { id: lisboa-telegram, channel: telegram, token: "${DEMO_TOKENS.lisboa}", pollMinIntervalMs: 300 }
    responder:
      staff: [{ agent: lisboa-telegram, chat: "${DEMO_PEOPLE.staffGroup}" }]
      rates: { USD: { buy: 0.91, sell: 0.95 }, GBP: { buy: 1.15, sell: 1.19 }, BRL: { buy: 0.16, sell: 0.18 } }
      faq:
        - { id: usd, keywords: [dólar, dollar, usd], answer: "US dollar at {branch}: we buy at {rates.USD.buy} and sell at {rates.USD.sell} EUR." }
        - { id: gbp, keywords: [libra, pound], answer: "{rates.GBP}" }
        - { id: brl, keywords: [real, reais], answer: "Real: {rates.BRL}" }
        - { id: hours, keywords: [horário, opening hours], answer: "{branch} is open {hours}." }
        - { id: address, keywords: [endereço, address, onde fica], answer: "We are at {address}." }
  - id: porto
    name: Porto Ribeira
    timezone: Europe/Lisbon
    address: Cais da Ribeira 20, Porto
    managers:
      - { id: bruno, name: Bruno, role: owner, telegram: ${DEMO_PEOPLE.bruno.id} }
    agents:
      - { id: porto-telegram, channel: telegram, token: "${DEMO_TOKENS.porto}", pollMinIntervalMs: 300 }
    responder:
      staff: [{ agent: porto-telegram, chat: "${DEMO_PEOPLE.portoStaffGroup}" }]
      faq:
        - { id: address, keywords: [endereço, address], answer: "We are at {address}." }
`;
}
