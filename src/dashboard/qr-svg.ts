import QRCode from 'qrcode';

/**
 * The QR matrix for `text` (true = dark), encoded by the `qrcode` package
 * (byte mode, smallest version at level M, best mask).
 */
export function qrMatrix(text: string): boolean[][] {
  let modules: { size: number; get(row: number, col: number): number | boolean };
  try {
    ({ modules } = QRCode.create(text, { errorCorrectionLevel: 'M' }));
  } catch (error) {
    throw new Error(`QR text too long to encode (${text.length} characters): ${(error as Error).message}`, { cause: error });
  }
  return Array.from({ length: modules.size }, (_, y) => Array.from({ length: modules.size }, (_, x) => Boolean(modules.get(y, x))));
}

/**
 * The QR code of `text` as an SVG data URL (a 4-module quiet zone, crisp at any size),
 * for an `<img>` on the dashboard. Drawn here (one path) rather than by the
 * package's SVG renderer, which is asynchronous.
 * @example qrSvgDataUrl('2@abc,def,ghi') // 'data:image/svg+xml;base64,...'
 */
export function qrSvgDataUrl(text: string): string {
  const matrix = qrMatrix(text);
  const size = matrix.length + 8;
  let path = '';
  matrix.forEach((row, y) => row.forEach((dark, x) => dark && (path += `M${x + 4} ${y + 4}h1v1h-1z`)));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges"><rect width="${size}" height="${size}" fill="#fff"/><path d="${path}" fill="#000"/></svg>`;
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}
