'use strict';

const { api } = require('../tests/helpers/api');
const { resetDatabase, GLOBEX } = require('../tests/helpers/fixtures');

beforeEach(resetDatabase);

const ids = async (url, tenant) => (await api(tenant).get(url)).body.data.map((factura) => factura.id);

describe('T13 filtros desde/hasta de facturas, ambos incluidos', () => {
  test('hasta incluye las facturas de ese día', async () => {
    expect(await ids('/api/contabilidad/facturas?hasta=2025-03-15')).toEqual([1, 2]);
    expect(await ids('/api/contabilidad/facturas?hasta=2025-03-31')).toEqual([1, 2, 3]);
  });

  test('hasta el día anterior no la incluye', async () => {
    expect(await ids('/api/contabilidad/facturas?hasta=2025-03-14')).toEqual([1]);
  });

  test('desde y hasta el mismo día', async () => {
    expect(await ids('/api/contabilidad/facturas?desde=2025-03-03&hasta=2025-03-03')).toEqual([1]);
  });

  test('un rango con los dos extremos', async () => {
    expect(await ids('/api/contabilidad/facturas?desde=2025-03-15&hasta=2025-03-31')).toEqual([2, 3]);
    expect(await ids('/api/contabilidad/facturas?desde=2025-03-10&hasta=2025-03-10', GLOBEX)).toEqual([4]);
  });

  test('con estado además de fechas', async () => {
    expect(await ids('/api/contabilidad/facturas?estado=emitida&hasta=2025-03-15')).toEqual([1, 2]);
  });

  test('también en las facturas de un cliente', async () => {
    expect(await ids('/api/clientes/1/facturas?hasta=2025-03-31')).toEqual([1, 3]);
  });

  test('400 si hasta es anterior a desde', async () => {
    const res = await api().get('/api/contabilidad/facturas?desde=2025-03-31&hasta=2025-03-01');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', campo: 'hasta' });
  });

  test('400 con una fecha inválida', async () => {
    const res = await api().get('/api/contabilidad/facturas?hasta=2025-13-01');
    expect(res.status).toBe(400);
    expect(res.body.error.campo).toBe('hasta');
  });
});
