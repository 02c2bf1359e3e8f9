'use strict';

const asyncHandler = require('../../app/core/asyncHandler');
const { isAsyncHandler } = require('../../app/core/asyncHandler');

test('pasa a next los errores de un handler async', async () => {
  const error = new Error('boom');
  const next = jest.fn();
  asyncHandler(async () => {
    throw error;
  })({}, {}, next);
  await new Promise((resolve) => setImmediate(resolve));
  expect(next).toHaveBeenCalledWith(error);
});

test('marca el handler envuelto', () => {
  expect(isAsyncHandler(asyncHandler(async () => {}))).toBe(true);
  expect(isAsyncHandler(async () => {})).toBe(false);
});
