'use strict';

const { isAsyncHandler } = require('../app/core/asyncHandler');
const RLSContextManager = require('../app/core/db/RLSContextManager');
const { api } = require('../tests/helpers/api');
const { routeHandlers } = require('../tests/helpers/express');
const { resetDatabase, ACME, GLOBEX } = require('../tests/helpers/fixtures');

beforeEach(resetDatabase);
afterEach(() => jest.restoreAllMocks());

const cambiar = (id, body, tenant = ACME) => api(tenant).patch(`/api/clientes/${id}`).send(body);
const leer = async (id, tenant = ACME) => (await api(tenant).get(`/api/clientes/${id}`)).body;

const ORIGINAL = {
  id: 1, nombre: 'Ferretería López', nif: '12345678Z', email: 'compras@ferreteria-lopez.es', telefono: '911234567',
};

describe('T12 PATCH /api/clientes/:id', () => {
  test('200: cambia solo lo enviado y lo guarda', async () => {
    const res = await cambiar(1, { email: ' NUEVO@Ferreteria.es ' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ...ORIGINAL, email: 'nuevo@ferreteria.es', tenantId: ACME });
    expect(await leer(1)).toMatchObject({ ...ORIGINAL, email: 'nuevo@ferreteria.es' });
  });

  test('nombre recortado y teléfono nuevo a la vez', async () => {
    const res = await cambiar(1, { nombre: '  Ferretería López e Hijos ', telefono: '+34 600 111 222' });
    expect(res.body).toMatchObject({ nombre: 'Ferretería López e Hijos', telefono: '+34 600 111 222', email: ORIGINAL.email });
  });

  test('email y teléfono se pueden borrar con null o cadena vacía', async () => {
    const res = await cambiar(1, { email: '', telefono: null });
    expect(res.status).toBe(200);
    expect(await leer(1)).toMatchObject({ email: null, telefono: null, nombre: ORIGINAL.nombre });
  });

  test.each([
    [{ nif: '87654321X' }, 'nif'],
    [{ nombre: 'Otro', nif: '12345678Z' }, 'nif'],
    [{ tenantId: 'globex' }, 'tenantId'],
    [{ id: 7 }, 'id'],
    [{ email: 'no-es-un-email' }, 'email'],
    [{ nombre: 'A' }, 'nombre'],
    [{ telefono: '12' }, 'telefono'],
  ])('400 con %j (campo %s) y el cliente no cambia', async (body, campo) => {
    const res = await cambiar(1, body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', campo });
    expect(await leer(1)).toMatchObject(ORIGINAL);
  });

  test('400 sin nada que modificar', async () => {
    expect((await cambiar(1, {})).status).toBe(400);
  });

  test('403 si es de otro tenant, sin cambiarlo', async () => {
    const res = await cambiar(1, { nombre: 'Ajeno' }, GLOBEX);
    expect(res.status).toBe(403);
    expect((await leer(1)).nombre).toBe(ORIGINAL.nombre);
  });

  test('404 si no existe', async () => {
    expect((await cambiar(999, { nombre: 'Nadie' })).status).toBe(404);
  });

  test('400 si el id no es un entero', async () => {
    expect((await cambiar('abc', { nombre: 'Nadie' })).status).toBe(400);
  });

  test('patrón: el handler está envuelto en asyncHandler', () => {
    const handlers = routeHandlers(api().app, 'PATCH', '/api/clientes/1');
    expect(handlers.length).toBeGreaterThan(0);
    expect(isAsyncHandler(handlers[handlers.length - 1])).toBe(true);
  });

  test('patrón: todo pasa por RLSContextManager.query() con el tenant de la petición', async () => {
    const query = jest.spyOn(RLSContextManager, 'query');
    await cambiar(1, { nombre: 'Ferretería López e Hijos' });
    expect(query).toHaveBeenCalled();
    expect(query.mock.calls.every(([context]) => context && context.tenantId === ACME)).toBe(true);
  });
});
