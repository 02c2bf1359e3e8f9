'use strict';

const zlib = require('zlib');
const { isAsyncHandler } = require('../app/core/asyncHandler');
const RLSContextManager = require('../app/core/db/RLSContextManager');
const { api } = require('../tests/helpers/api');
const { routeHandlers } = require('../tests/helpers/express');
const { resetDatabase, ACME, GLOBEX } = require('../tests/helpers/fixtures');

beforeEach(resetDatabase);
afterEach(() => jest.restoreAllMocks());

function binario(res, callback) {
  const chunks = [];
  res.on('data', (chunk) => chunks.push(chunk));
  res.on('end', () => callback(null, Buffer.concat(chunks)));
}

function pdf(tenant, id) {
  return api(tenant).get(`/api/contabilidad/facturas/${id}/pdf`).buffer(true).parse(binario);
}

// Texto de los content streams de un PDF de pdfkit (fuentes estándar: cadenas hex en Tj/TJ).
function pdfText(buffer) {
  const raw = buffer.toString('latin1');
  const parts = [];
  for (const match of raw.matchAll(/\/Length (\d+)[^>]*>>\s*stream\r?\n/g)) {
    const data = raw.substr(match.index + match[0].length, Number(match[1]));
    let content;
    try {
      content = zlib.inflateSync(Buffer.from(data, 'latin1')).toString('latin1');
    } catch {
      content = data;
    }
    for (const op of content.matchAll(/\[((?:<[0-9a-fA-F]*>|[^\]])*)\]\s*TJ|<([0-9a-fA-F]*)>\s*Tj|\(((?:\\.|[^\\)])*)\)\s*Tj/g)) {
      if (op[3] !== undefined) {
        parts.push(op[3]);
        continue;
      }
      const hexes = op[1] !== undefined ? [...op[1].matchAll(/<([0-9a-fA-F]*)>/g)].map((m) => m[1]) : [op[2]];
      parts.push(hexes.map((hex) => Buffer.from(hex, 'hex').toString('latin1')).join(''));
    }
  }
  return parts.join(' ').replace(/\s+/g, ' ');
}

describe('T02 GET /api/contabilidad/facturas/:id/pdf', () => {
  test('200 con un PDF completo y cabeceras', async () => {
    const res = await pdf(ACME, 1);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/pdf/);
    expect(res.headers['content-disposition']).toBe('inline; filename="F-2025-0001.pdf"');
    expect(Buffer.isBuffer(res.body)).toBe(true);
    expect(res.body.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(res.body.toString('latin1').trimEnd().endsWith('%%EOF')).toBe(true);
  });

  test('el título del documento es "Factura <numero>"', async () => {
    const res = await pdf(ACME, 2);
    expect(res.body.toString('latin1')).toContain('(Factura F-2025-0002)');
  });

  test('el PDF lleva número, fecha, cliente, líneas y totales con formatEuros', async () => {
    const text = pdfText((await pdf(ACME, 1)).body);
    for (const expected of ['F-2025-0001', '2025-03-03', 'Ferretería López', '12345678Z', 'Café molido 1kg',
      '12,50', '125,00', '137,50']) {
      expect(text).toContain(expected);
    }
    expect(text).not.toContain('ANULADA');
  });

  test('una factura anulada lo dice en el PDF', async () => {
    const text = pdfText((await pdf(ACME, 3)).body);
    expect(text).toContain('ANULADA');
    expect(text).toContain('F-2025-0003');
  });

  test('404 si no existe', async () => {
    const res = await api(ACME).get('/api/contabilidad/facturas/999/pdf');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  test('403 si es de otro tenant, sin PDF', async () => {
    const res = await api(GLOBEX).get('/api/contabilidad/facturas/1/pdf');
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/json/);
    expect(res.body.error.code).toBe('FORBIDDEN');
  });

  test('400 si el id no es un entero', async () => {
    expect((await api(ACME).get('/api/contabilidad/facturas/abc/pdf')).status).toBe(400);
  });

  test('patrón: el handler está envuelto en asyncHandler', () => {
    const handlers = routeHandlers(api().app, 'GET', '/api/contabilidad/facturas/1/pdf');
    expect(handlers.length).toBeGreaterThan(0);
    expect(isAsyncHandler(handlers[handlers.length - 1])).toBe(true);
  });

  test('patrón: los datos se leen con RLSContextManager.query() y el tenant de la petición', async () => {
    const query = jest.spyOn(RLSContextManager, 'query');
    await pdf(ACME, 1);
    expect(query).toHaveBeenCalled();
    expect(query.mock.calls.every(([context]) => context && context.tenantId === ACME)).toBe(true);
  });
});
